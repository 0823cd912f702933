"""Scores against labelled rows: the metrics of ``modtriage eval moderation``.

A row is flagged when any category it annotates is 1; a prediction is flagged when the route
the policy gives it, looking only at the scores of the categories that row annotates, is not
``allow`` (DESIGN.md). Routing follows :func:`bot.pipeline.decide.decide`: ``escalate`` becomes
``review`` when the policy has escalation off.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from bot.classifiers.dataset import ModerationRow
from bot.policy import Policy
from bot.verdict import Route

__all__ = [
    "CategoryScore",
    "EvalReport",
    "FlaggedScore",
    "FunctionalityScore",
    "JudgeScore",
    "Latency",
    "SourceReference",
    "evaluate",
    "evaluate_judge",
    "route_for",
    "source_reference",
]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True)


class FlaggedScore(_Frozen):
    precision: float
    recall: float
    f1: float
    auprc: float


class CategoryScore(FlaggedScore):
    n_pos: int


class FunctionalityScore(_Frozen):
    n: int
    accuracy: float


class Latency(_Frozen):
    p50: float
    p99: float


class SourceReference(_Frozen):
    """What is known of a labelled file's source from training (``model/loso.json``)."""

    file: str = Field(description="the training file that holds this source")
    in_training: bool = Field(description="the shipped model was trained on this source")
    out_of_source_f1: float = Field(
        description="flagged F1 on it of a fold model that never saw it (leave-source-out)"
    )
    frozen_out_of_source_f1: float | None = Field(
        description="the same protocol on the frozen stock encoder"
    )


class JudgeScore(_Frozen):
    """The whole judge's figures: rules, model and decide as the pipeline runs them (rate
    counters off, nothing sent to the frontier model: a message it would see counts as
    flagged). A prediction is flagged when the verdict's route is not ``allow`` and it holds
    evidence at review or above for a category the row annotates."""

    precision: float
    recall: float
    f1: float
    routing: dict[str, float]
    decided_by: dict[str, float] = Field(
        description="share of the flagged predictions each stage decided (rules, model, ...)"
    )


class EvalReport(_Frozen):
    """Exactly the JSON object ``modtriage eval moderation --json`` prints."""

    dataset: str
    n: int
    flagged: FlaggedScore
    categories: dict[str, CategoryScore]
    functionalities: dict[str, FunctionalityScore] = Field(default_factory=dict)
    routing: dict[str, float]
    throughput_msgs_per_s: float
    latency_ms: Latency
    judge: JudgeScore | None = Field(
        default=None, description="the whole judge beside the model alone (above)"
    )
    reference: SourceReference | None = Field(
        default=None,
        description="set when the rows come from a source the model was trained on: these "
        "figures are then in-source, and the leave-source-out one is the honest estimate",
    )


def route_for(scores: Mapping[str, float], categories: Sequence[str], policy: Policy) -> Route:
    """The route the policy gives these scores, looking only at ``categories``."""
    route = Route.ALLOW
    for category in categories:
        if category not in policy.categories or category not in scores:
            continue
        found = policy.thresholds(category).route(scores[category])
        if found is Route.ESCALATE and not policy.escalation.enabled:
            found = Route.REVIEW
        if found.rank > route.rank:
            route = found
    return route


def _prf(truth: list[bool], pred: list[bool]) -> tuple[float, float, float]:
    tp = sum(t and p for t, p in zip(truth, pred, strict=True))
    fp = sum(p and not t for t, p in zip(truth, pred, strict=True))
    fn = sum(t and not p for t, p in zip(truth, pred, strict=True))
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


def average_precision(truth: Sequence[bool], score: Sequence[float]) -> float:
    """Area under the precision-recall curve as average precision (ties broken pessimistically).

    0.0 when there is no positive row.
    """
    n_pos = sum(truth)
    if not n_pos:
        return 0.0
    order = sorted(range(len(score)), key=lambda i: (-score[i], truth[i]))
    hits = 0
    total = 0.0
    for rank, i in enumerate(order, start=1):
        if truth[i]:
            hits += 1
            total += hits / rank
    return total / n_pos


def evaluate(
    rows: Sequence[ModerationRow],
    scores: Sequence[Mapping[str, float]],
    policy: Policy,
    *,
    dataset: str,
    seconds: float,
    latencies_ms: Sequence[float],
) -> EvalReport:
    """Metrics of ``scores`` (one mapping per row, in order) against ``rows``."""
    truth: list[bool] = []
    pred: list[bool] = []
    flag_score: list[float] = []
    routes: dict[str, int] = {r.value: 0 for r in (Route.ALLOW, Route.ACT, Route.REVIEW)}
    routes[Route.ESCALATE.value] = 0
    per_cat: dict[str, tuple[list[bool], list[bool], list[float]]] = {}
    functionality: dict[str, list[bool]] = {}
    for row, row_scores in zip(rows, scores, strict=True):
        annotated = [c for c in row.labels if c in policy.categories]
        route = route_for(row_scores, annotated, policy)
        routes[route.value] += 1
        flagged = any(row.labels[c] == 1 for c in annotated)
        predicted = route is not Route.ALLOW
        truth.append(flagged)
        pred.append(predicted)
        flag_score.append(max((row_scores.get(c, 0.0) for c in annotated), default=0.0))
        for category in annotated:
            t, p, s = per_cat.setdefault(category, ([], [], []))
            t.append(row.labels[category] == 1)
            p.append(route_for(row_scores, [category], policy) is not Route.ALLOW)
            s.append(row_scores.get(category, 0.0))
        name = row.meta.get("functionality")
        if isinstance(name, str):
            functionality.setdefault(name, []).append(flagged == predicted)
    precision, recall, f1 = _prf(truth, pred)
    categories = {}
    for category in sorted(per_cat):
        t, p, s = per_cat[category]
        cp, cr, cf = _prf(t, p)
        categories[category] = CategoryScore(
            n_pos=sum(t), precision=cp, recall=cr, f1=cf, auprc=average_precision(t, s)
        )
    n = len(rows)
    lat = np.asarray(latencies_ms, dtype=np.float64) if latencies_ms else np.zeros(1)
    return EvalReport(
        dataset=dataset,
        n=n,
        flagged=FlaggedScore(
            precision=precision,
            recall=recall,
            f1=f1,
            auprc=average_precision(truth, flag_score),
        ),
        categories=categories,
        functionalities={
            k: FunctionalityScore(n=len(v), accuracy=sum(v) / len(v))
            for k, v in sorted(functionality.items())
        },
        routing={k: (v / n if n else 0.0) for k, v in routes.items()},
        throughput_msgs_per_s=n / seconds if seconds > 0 else 0.0,
        latency_ms=Latency(p50=float(np.percentile(lat, 50)), p99=float(np.percentile(lat, 99))),
    )


def evaluate_judge(
    rows: Sequence[ModerationRow],
    verdicts: Sequence[tuple[Route, frozenset[str], str]],
    policy: Policy,
) -> JudgeScore:
    """Figures of the whole judge: one (route, categories its evidence holds at review or
    above, stage) per row, in order; a row is flagged as :func:`evaluate` counts it."""
    truth: list[bool] = []
    pred: list[bool] = []
    routes = dict.fromkeys((r.value for r in Route), 0)
    stages: dict[str, int] = {}
    for row, (route, held, stage) in zip(rows, verdicts, strict=True):
        annotated = [c for c in row.labels if c in policy.categories]
        routes[route.value] += 1
        flagged = route is not Route.ALLOW and any(c in held for c in annotated)
        truth.append(any(row.labels[c] == 1 for c in annotated))
        pred.append(flagged)
        if flagged:
            stages[stage] = stages.get(stage, 0) + 1
    precision, recall, f1 = _prf(truth, pred)
    n, hits = len(rows), sum(pred)
    return JudgeScore(
        precision=precision,
        recall=recall,
        f1=f1,
        routing={k: (v / n if n else 0.0) for k, v in routes.items()},
        decided_by={k: v / hits for k, v in sorted(stages.items())} if hits else {},
    )


def source_reference(
    rows: Sequence[ModerationRow], loso: Mapping[str, Any]
) -> SourceReference | None:
    """The leave-source-out record of the training file most of ``rows`` come from, if any.

    ``loso`` is the report ``tools/loso.py`` writes (``bot/classifiers/model/loso.json``).
    """
    counts: dict[str, int] = {}
    for row in rows:
        counts[row.source] = counts.get(row.source, 0) + 1
    if not counts:
        return None
    source = max(counts, key=lambda k: counts[k])
    tuned = loso.get("finetuned", {}).get("per_source", {})
    frozen = loso.get("frozen", {}).get("per_source", {})
    for file, record in tuned.items():
        if source in record.get("sources", ()) or source == file:
            base = frozen.get(file)
            return SourceReference(
                file=file,
                in_training=True,
                out_of_source_f1=float(record["f1"]),
                frozen_out_of_source_f1=float(base["f1"]) if base else None,
            )
    return None
