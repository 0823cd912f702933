"""Stage: score each message with the configured small model.

When the model fails for a batch (no answer in time, server down, an answer out of schema) the
batch is not retried to death: each message carries ``model_unavailable`` with the reason, and
:func:`~bot.pipeline.decide.decide` judges it on the rules' evidence alone, sending what the rules
did not decide to human review, degraded. A rule hit (a deny-listed slur) is still acted on.

A text longer than ``max_chars`` is read as its head and its tail (:mod:`bot.excerpt`), both
in the same model call; each category keeps the higher of the two scores."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import structlog

from bot.classification import Classification, strongest
from bot.classifiers.base import Classifier
from bot.errors import ClassifierError, ClassifierTimeout
from bot.excerpt import excerpts
from bot.pipeline.assessment import Assessment
from bot.pipeline.language import LanguageDetector
from bot.policy import Policy
from bot.verdict import Evidence, Route

__all__ = ["ClassifyStage", "model_evidence"]

log = structlog.get_logger(__name__)


def model_evidence(
    classification: Classification, policy: Policy, channel: str | None
) -> list[Evidence]:
    """Evidence for every category whose score reaches its review threshold.

    With escalation enabled, a text in a language the policy does not list as handled
    (``escalation.languages``) is not trusted to the small model: its review and act bands go
    to the frontier model instead, with the reason in ``note``. Rules are not affected.
    """
    language = classification.language
    unhandled = (
        policy.escalation.enabled
        and language is not None
        and language not in policy.escalation.languages
    )
    found = []
    for category, score in classification.scores.items():
        if category not in policy.categories:
            continue
        route = policy.thresholds(category, channel).route(score)
        if route is Route.ALLOW:
            continue
        note = None
        if unhandled and route in (Route.REVIEW, Route.ACT):
            route = Route.ESCALATE
            note = f"language {language} is not handled by the small model"
        found.append(
            Evidence(
                category=category, rule=f"model:{category}", score=score, route=route, note=note
            )
        )
    return found


class ClassifyStage:
    name = "classify"

    def __init__(
        self,
        *,
        classifier: Classifier,
        policy: Policy,
        timeout_s: float,
        max_chars: int,
        languages: LanguageDetector | None = None,
    ) -> None:
        """``languages``: when given, each Classification carries the text's language."""
        self._classifier = classifier
        self._policy = policy
        self._timeout_s = timeout_s
        self._max_chars = max_chars
        self._languages = languages

    async def run(self, batch: Sequence[Assessment]) -> list[Assessment]:
        """Never raises ClassifierError: a batch the model cannot judge is marked
        ``model_unavailable`` (see the module)."""
        todo = [i for i, item in enumerate(batch) if not item.message.is_blank]
        readings = [excerpts(batch[i].message.text, self._max_chars) for i in todo]
        results: list[Classification] = []
        if readings:
            try:
                results = await self._classify(readings)
            except ClassifierError as exc:
                log.warning(
                    "model unavailable, deciding on rules alone", error=str(exc), size=len(todo)
                )
                reason = f"the model was unavailable ({exc})"[:300]
                failed = set(todo)
                return [
                    item.model_copy(update={"model_unavailable": reason}) if i in failed else item
                    for i, item in enumerate(batch)
                ]
        by_index = dict(zip(todo, results, strict=True))
        out = []
        for i, item in enumerate(batch):
            result = by_index.get(i)
            if result is None:
                out.append(item)
                continue
            evidence = model_evidence(result, self._policy, item.message.channel)
            out.append(
                item.model_copy(
                    update={"classification": result, "evidence": (*item.evidence, *evidence)}
                )
            )
        return out

    async def _classify(self, readings: list[tuple[str, ...]]) -> list[Classification]:
        """One Classification per reading (a text's excerpts), from one model call.

        Raises ClassifierError (ClassifierTimeout) when the model cannot answer in time."""
        texts = [part for reading in readings for part in reading]
        try:
            parts = await asyncio.wait_for(
                self._classifier.classify(texts), timeout=self._timeout_s
            )
        except TimeoutError as exc:
            raise ClassifierTimeout(
                self._classifier.name, f"no answer in {self._timeout_s}s"
            ) from exc
        if len(parts) != len(texts):
            raise ClassifierError(self._classifier.name, "returned a wrong number of results")
        results, start = [], 0
        for reading in readings:
            results.append(strongest(parts[start : start + len(reading)]))
            start += len(reading)
        if self._languages is not None:
            detected = await self._languages.detect_many([reading[0] for reading in readings])
            results = [
                r.model_copy(update={"language": lang})
                for r, lang in zip(results, detected, strict=True)
            ]
        return results
