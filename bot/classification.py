"""What a classifier says about one text."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["Classification", "FaqMatch"]


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
