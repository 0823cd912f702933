"""The one interface every pipeline stage implements."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from bot.pipeline.assessment import Assessment

__all__ = ["Stage"]


class Stage(Protocol):
    """Takes a batch of assessments and returns them updated, in the same order."""

    name: str

    async def run(self, batch: Sequence[Assessment]) -> list[Assessment]: ...
