"""A small model whose answers the test states: a phrase -> its scores."""

from __future__ import annotations

from collections.abc import Sequence

from bot.classification import Classification


class ScoresByPhrase:
    """The small model's side of the story, stated by the test: a phrase -> its scores."""

    name = "scripted-small-model"

    def __init__(self, scores: dict[str, dict[str, float]]) -> None:
        self._scores = scores

    async def classify(self, texts: Sequence[str]) -> list[Classification]:
        out = []
        for text in texts:
            found = next((s for phrase, s in self._scores.items() if phrase in text), {})
            out.append(Classification(scores=found, model=self.name))
        return out
