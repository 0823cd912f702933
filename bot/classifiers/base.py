"""The seam every model sits behind."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from bot.classification import Classification

__all__ = ["Classifier"]


class Classifier(Protocol):
    """Scores texts against the policy's categories. One Classification per text, in order.

    Implementations do CPU work off the event loop and raise
    :class:`~bot.errors.ClassifierError` when the model cannot answer.
    """

    name: str

    async def classify(self, texts: Sequence[str]) -> list[Classification]: ...
