"""``modtriage eval faq``: how often the FAQ answers, how often it is right, what it hands off.

Data: JSON Lines ``{"text": str, "faq": "<faq id>" | null, "source": str}``; ``null`` means no
entry answers the row (out of scope: the right move is to hand off).
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from bot.faq.matcher import FaqDecision, FaqMatcher
from bot.faq.questions import looks_like_question
from bot.jsonl import read_jsonl
from bot.progress import Advance, no_progress

__all__ = [
    "FaqCurvePoint",
    "FaqEvalReport",
    "FaqRow",
    "Latency",
    "answered_at",
    "curve",
    "evaluate",
    "read_faq_rows",
    "report_json",
    "score",
]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True)


class FaqRow(_Frozen):
    text: str
    faq: str | None
    source: str = ""


class Latency(_Frozen):
    p50: float
    p99: float


class FaqEvalReport(_Frozen):
    """Exactly the JSON object ``modtriage eval faq --json`` prints; tools parse these keys."""

    dataset: str
    n: int
    in_scope_accuracy: float = Field(description="top-1 right on rows with an entry, no threshold")
    answered_precision: float = Field(description="right answers / answers (null rows count)")
    in_scope_coverage: float = Field(description="right answers / rows with an entry")
    oos_recall: float = Field(description="null rows left unanswered / null rows")
    throughput_msgs_per_s: float
    latency_ms: Latency
    matcher: str = Field(description="what answered: closed-form:<encoder> or trained:<hash12>")


class FaqCurvePoint(_Frozen):
    min_similarity: float
    min_confidence: float
    answered_precision: float
    in_scope_coverage: float
    oos_recall: float


def read_faq_rows(path: Path) -> list[FaqRow]:
    """Read an FAQ evaluation file.

    Raises:
        ConfigError: the file cannot be read, or a line is not a valid row (names the line).
    """
    return read_jsonl(
        path, FaqRow, expected='{"text": str, "faq": "<faq id>" | null, "source": str}'
    )


def score(
    rows: Sequence[FaqRow],
    top_ids: Sequence[str | None],
    answered: Sequence[str | None],
) -> tuple[float, float, float, float]:
    """(in_scope_accuracy, answered_precision, in_scope_coverage, oos_recall).

    ``top_ids`` is the best entry per row regardless of thresholds; ``answered`` the entry the
    bot answered with, or None where it handed off. A ratio over nothing is 0.0.
    """
    in_scope = [i for i, row in enumerate(rows) if row.faq is not None]
    oos = [i for i, row in enumerate(rows) if row.faq is None]
    given = [i for i, a in enumerate(answered) if a is not None]
    right = [i for i in given if answered[i] == rows[i].faq]

    def ratio(part: int, whole: int) -> float:
        return part / whole if whole else 0.0

    return (
        ratio(sum(top_ids[i] == rows[i].faq for i in in_scope), len(in_scope)),
        ratio(len(right), len(given)),
        ratio(len(right), len(in_scope)),
        ratio(sum(answered[i] is None for i in oos), len(oos)),
    )


def answered_at(
    decisions: Sequence[FaqDecision], min_similarity: float, min_confidence: float
) -> list[str | None]:
    """The entry each decision would answer with under these thresholds, else None."""
    return [
        d.best.faq_id
        if d.best and d.best.similarity >= min_similarity and d.best.confidence >= min_confidence
        else None
        for d in decisions
    ]


def curve(
    rows: Sequence[FaqRow],
    decisions: Sequence[FaqDecision],
    min_similarity: float,
    min_confidence: float,
) -> list[FaqCurvePoint]:
    """Precision, coverage and out-of-scope recall as one threshold moves and the other stays:
    the trade-off a community picks its thresholds from."""
    pairs = [(min_similarity, c) for c in (0.0, 0.25, 0.5, 0.75, 0.875, 0.95, 0.99)]
    pairs += [(s, min_confidence) for s in (0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85)]
    points = []
    for sim, conf in pairs:
        answered = answered_at(decisions, sim, conf)
        _, precision, coverage, oos = score(rows, [None] * len(rows), answered)
        points.append(
            FaqCurvePoint(
                min_similarity=sim,
                min_confidence=conf,
                answered_precision=round(precision, 4),
                in_scope_coverage=round(coverage, 4),
                oos_recall=round(oos, 4),
            )
        )
    return points


async def evaluate(
    rows: Sequence[FaqRow],
    matcher: FaqMatcher,
    *,
    dataset: str,
    batch_size: int = 32,
    questions_only: bool = False,
    advance: Advance = no_progress,
) -> tuple[FaqEvalReport, list[FaqDecision]]:
    """Match every row in batches, as a worker would; a row's latency is its batch's time.

    With ``questions_only`` a row the question test rejects counts as handed off;
    ``advance`` is told of each batch done (a progress bar).

    Raises:
        ClassifierError: the encoder failed.
    """
    await matcher.prepare()
    decisions: list[FaqDecision] = []
    latencies: list[float] = []
    started = time.perf_counter()
    for start in range(0, len(rows), batch_size):
        chunk = [row.text for row in rows[start : start + batch_size]]
        t0 = time.perf_counter()
        decisions += await matcher.match(chunk)
        latencies += [(time.perf_counter() - t0) * 1000] * len(chunk)
        advance(len(chunk))
    seconds = time.perf_counter() - started
    answered = [
        d.faq_id if not questions_only or looks_like_question(row.text) else None
        for d, row in zip(decisions, rows, strict=True)
    ]
    top_ids = [d.best.faq_id if d.best else None for d in decisions]
    accuracy, precision, coverage, oos = score(rows, top_ids, answered)
    lat = np.asarray(latencies or [0.0])
    report = FaqEvalReport(
        dataset=dataset,
        n=len(rows),
        in_scope_accuracy=round(accuracy, 4),
        answered_precision=round(precision, 4),
        in_scope_coverage=round(coverage, 4),
        oos_recall=round(oos, 4),
        throughput_msgs_per_s=round(len(rows) / seconds, 1) if seconds > 0 else 0.0,
        latency_ms=Latency(
            p50=round(float(np.percentile(lat, 50)), 2),
            p99=round(float(np.percentile(lat, 99)), 2),
        ),
        matcher=matcher.label,
    )
    return report, decisions


def report_json(report: FaqEvalReport) -> str:
    """The one-line JSON object, keys in the documented order."""
    return json.dumps(report.model_dump(mode="json"))
