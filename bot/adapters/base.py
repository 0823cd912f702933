"""The one interface every platform adapter implements on the way out."""

from __future__ import annotations

from typing import Protocol

from bot.action import Action

__all__ = ["Adapter"]


class Adapter(Protocol):
    """Executes actions on one platform.

    ``handles`` lists the action ``type`` values it performs; ``perform`` raises ``TypeError``
    for any other and :class:`~bot.errors.ActionError` when the platform refuses (with
    ``retry_after`` when trying again later can work).
    """

    platform: str
    handles: frozenset[str]

    async def perform(self, action: Action) -> None: ...
