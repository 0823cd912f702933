"""What a classifier says about one text."""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["Classification", "FaqMatch", "strongest"]


class FaqMatch(BaseModel):
    """The FAQ entry a text most likely asks about."""

    model_config = ConfigDict(frozen=True)

    faq_id: str
    score: float = Field(ge=0.0, le=1.0)


class Classification(BaseModel):
    """Per-category probabilities for one text, from one model."""

    model_config = ConfigDict(frozen=True)

    scores: dict[str, float] = Field(
        description="category -> calibrated probability that the text violates it"
    )
    model: str = Field(description="model name and revision, e.g. 'embedded:minilm-l6-v2@heads-3'")
    faq: FaqMatch | None = None
    rationale: str | None = Field(default=None, max_length=500)
    degraded: bool = Field(
        default=False, description="a fallback model answered because the configured one failed"
    )
    language: str | None = Field(
        default=None,
        description="ISO 639-1 code of the text's language when it was long enough to tell",
    )

    def top(self) -> tuple[str, float] | None:
        """The highest-scoring category, or None when there are no scores."""
        if not self.scores:
            return None
        category = max(self.scores, key=lambda c: self.scores[c])
        return category, self.scores[category]


def strongest(parts: Sequence[Classification]) -> Classification:
    """One text read in parts (its head and tail, see :mod:`bot.excerpt`): each category's
    highest score, the rationale of the part with the highest score of all, degraded when any
    part was; model, FAQ match and language of the first part. Raises ValueError when empty."""
    if not parts:
        raise ValueError("no classification to merge")
    first = parts[0]
    if len(parts) == 1:
        return first
    scores: dict[str, float] = {}
    for part in parts:
        for category, score in part.scores.items():
            scores[category] = max(score, scores.get(category, score))
    loudest = max(parts, key=lambda p: max(p.scores.values(), default=0.0))
    return first.model_copy(
        update={
            "scores": scores,
            "rationale": loudest.rationale if loudest.rationale is not None else first.rationale,
            "degraded": any(p.degraded for p in parts),
        }
    )
