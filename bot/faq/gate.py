"""The out-of-scope gate of a trained matcher: which thresholds answer, chosen on labelled
decisions (the FAQ file's own held-out examples and off-topic texts, never outside labels)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from bot.faq.matcher import FaqDecision

__all__ = ["GateChoice", "choose_gate"]

_SIMILARITIES = tuple(round(0.30 + 0.01 * i, 2) for i in range(66))  # 0.30 ... 0.95
_CONFIDENCES = (0.0, 0.3, 0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.95, 0.98)


class GateChoice(BaseModel):
    """The thresholds chosen and what they gave on the calibration split."""

    model_config = ConfigDict(frozen=True)

    min_similarity: float
    min_confidence: float
    answered_precision: float
    in_scope_coverage: float
    oos_recall: float
    in_scope: int = Field(description="held-out questions of entries the model kept")
    out_of_scope: int = Field(description="held-out entries' questions and off-topic texts")
    met_target: bool = Field(description="False: no pair reached the target; the most precise")


def choose_gate(
    decisions: Sequence[FaqDecision],
    truth: Sequence[str | None],
    *,
    target_precision: float,
) -> GateChoice:
    """The (similarity, confidence) pair with the most right answers whose answered precision
    is at least ``target_precision``; ties go to the stricter pair (more hand-offs). When no
    pair reaches it, the most precise pair that answers anything."""
    best_sim = np.array([d.best.similarity if d.best else -1.0 for d in decisions])
    best_conf = np.array([d.best.confidence if d.best else 0.0 for d in decisions])
    right = np.array(
        [d.best is not None and d.best.faq_id == t for d, t in zip(decisions, truth, strict=True)]
    )
    oos = np.array([t is None for t in truth])
    n_in, n_out = int((~oos).sum()), int(oos.sum())
    scored: list[tuple[bool, float, float, float, float, float]] = []
    for sim in _SIMILARITIES:
        for conf in _CONFIDENCES:
            answered = (best_sim >= sim) & (best_conf >= conf)
            given = int(answered.sum())
            good = int((answered & right & ~oos).sum())
            precision = good / given if given else 0.0
            coverage = good / n_in if n_in else 0.0
            recall = float((~answered & oos).sum()) / n_out if n_out else 1.0
            scored.append((precision >= target_precision, coverage, precision, recall, sim, conf))
    met = [s for s in scored if s[0] and s[1] > 0]
    if met:
        pick = max(met, key=lambda s: (s[1], s[3], s[4], s[5]))
    else:
        pick = max(scored, key=lambda s: (s[2], s[1], s[4], s[5]))
    return GateChoice(
        min_similarity=pick[4],
        min_confidence=pick[5],
        answered_precision=round(pick[2], 4),
        in_scope_coverage=round(pick[1], 4),
        oos_recall=round(pick[3], 4),
        in_scope=n_in,
        out_of_scope=n_out,
        met_target=bool(met),
    )
