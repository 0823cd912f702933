"""A cascade of two models: a cheap first one on every text, a stronger second one on the
texts the first is unsure about (or on every text)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Literal

import structlog

from bot.classification import Classification
from bot.classifiers.base import Classifier
from bot.errors import ClassifierError
from bot.policy import Policy
from bot.verdict import Route

if TYPE_CHECKING:
    from prometheus_client import Counter

__all__ = ["CascadeClassifier", "CascadeMode"]

log = structlog.get_logger(__name__)

CascadeMode = Literal["every", "uncertain"]


class CascadeClassifier:
    """``first`` (the embedded encoder and heads) labels every text; ``second`` (the small LLM
    on vLLM) relabels the texts in the policy's uncertain band: some category scored in its
    review or escalate band, so neither allow nor act is clear. With ``mode="every"`` the
    second labels every text and the first answers only when the second fails.

    The second model may raise a category's route, or lower it as far as review, never to
    allow: a category the first put in review or above keeps at least its review score, so a
    second model talked out of it by the text itself still leaves the message to a person.

    When the second model fails, the first model's results stand, marked ``degraded=True``.
    The frontier model and humans come after, in the escalate stage and the review queue.
    """

    def __init__(
        self,
        *,
        first: Classifier,
        second: Classifier,
        policy: Policy,
        mode: CascadeMode = "uncertain",
        fallbacks: Counter | None = None,
    ) -> None:
        self._first = first
        self._second = second
        self._policy = policy
        self._mode = mode
        self._fallbacks = fallbacks
        self.name = f"cascade:{first.name}>{second.name}"

    def uncertain(self, classification: Classification) -> bool:
        """Whether some category's score falls in its review or escalate band."""
        for category, score in classification.scores.items():
            if category not in self._policy.categories:
                continue
            if self._policy.thresholds(category).route(score) in {Route.REVIEW, Route.ESCALATE}:
                return True
        return False

    async def classify(self, texts: Sequence[str]) -> list[Classification]:
        if self._mode == "every":
            try:
                return await self._second.classify(texts)
            except ClassifierError as exc:
                self._fell_back(exc, len(texts))
                return [r.model_copy(update={"degraded": True})
                        for r in await self._first.classify(texts)]  # fmt: skip
        firsts = await self._first.classify(texts)
        todo = [i for i, result in enumerate(firsts) if self.uncertain(result)]
        if not todo:
            return firsts
        try:
            seconds = await self._second.classify([texts[i] for i in todo])
        except ClassifierError as exc:
            self._fell_back(exc, len(todo))
            seconds = [firsts[i].model_copy(update={"degraded": True}) for i in todo]
        out = list(firsts)
        for i, result in zip(todo, seconds, strict=True):
            out[i] = self._no_lower_than_review(firsts[i], result)
        return out

    def _no_lower_than_review(
        self, first: Classification, second: Classification
    ) -> Classification:
        scores = dict(second.scores)
        for category, score in first.scores.items():
            if category not in self._policy.categories:
                continue
            thresholds = self._policy.thresholds(category)
            if thresholds.route(score).rank >= Route.REVIEW.rank:
                scores[category] = max(scores.get(category, 0.0), thresholds.review)
        return second.model_copy(update={"scores": scores})

    def _fell_back(self, exc: ClassifierError, count: int) -> None:
        log.warning("cascade kept the first model's labels", model=exc.model, reason=exc.reason,
                    texts=count)  # fmt: skip
        if self._fallbacks is not None:
            self._fallbacks.labels(model=self._second.name, kind=type(exc).__name__).inc(count)
