"""Held-out slices the training report names: shares flagged where nothing should be."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray
from pydantic import BaseModel, ConfigDict

from bot.classifiers.heads import Heads
from bot.policy import Policy

if TYPE_CHECKING:
    from bot.classifiers.training_rows import TrainingRow

__all__ = ["HARD_NEGATIVE_SOURCES", "SliceRate", "hate_slice"]


class SliceRate(BaseModel):
    """How often held-out rows of a slice were routed anything but allow for one category."""

    model_config = ConfigDict(frozen=True)

    category: str
    sources: tuple[str, ...]
    n: int
    flagged: int
    rate: float


HARD_NEGATIVE_SOURCES = (
    "toxigen-seeds",
    "written-counter-speech",
    "written-report",
    "written-negation",
    "written-group-mention",
    "written-reclaimed",
)


def hate_slice(
    heads: Heads,
    rows: Sequence[TrainingRow],
    x: NDArray[np.float32],
    policy: Policy,
    sources: tuple[str, ...],
    *,
    level: str | None = None,
) -> SliceRate:
    """Held-out rows of ``sources`` that are not hate (of ``meta.level``, when given): the
    share the policy would route past allow as hate."""
    idx = [
        i
        for i, r in enumerate(rows)
        if r.split == "val"
        and r.row.source in sources
        and r.row.labels.get("hate") == 0
        and (level is None or r.row.meta.get("level") == level)
    ]
    j = heads.categories.index("hate")
    scores = heads.scores(x[idx])[:, j] if idx else np.zeros(0, dtype=np.float32)
    review = policy.thresholds("hate").review
    flagged = int((scores >= review).sum())
    return SliceRate(
        category="hate",
        sources=sources,
        n=len(idx),
        flagged=flagged,
        rate=flagged / len(idx) if idx else 0.0,
    )
