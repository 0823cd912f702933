"""A stand-in that scores nothing: only the deterministic rules decide."""

from __future__ import annotations

from collections.abc import Sequence

from bot.classification import Classification

__all__ = ["RulesOnlyClassifier"]


class RulesOnlyClassifier:
    """No model at all. Useful to run the pipeline where no model is wanted or available."""

    name = "rules-only"

    async def classify(self, texts: Sequence[str]) -> list[Classification]:
        return [Classification(scores={}, model=self.name) for _ in texts]
