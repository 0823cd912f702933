"""The PNG of ``modtriage eval moderation|faq --plot``: trade-offs, with the settings marked.

Moderation: per category, precision and recall of "score ≥ t" over thresholds t, with the
policy's review (dashed) and act (dotted) thresholds drawn, so a community sees what moving
one would cost. FAQ: answered precision, in-scope coverage and out-of-scope recall over the
similarity floor, with the floor in use marked. Backtest (``modtriage backtest --plot``): per
category, the messages each route gets, recorded and with the candidate. matplotlib is an
optional extra (``pip install 'modtriage[plot]'``); without it ``--plot`` says so.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from bot.classifiers.dataset import ModerationRow
from bot.errors import ConfigError
from bot.faq.evaluation import FaqRow, answered_at, score
from bot.faq.matcher import FaqDecision
from bot.policy import Policy

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = [
    "THRESHOLDS",
    "backtest_figure",
    "faq_figure",
    "moderation_figure",
    "save",
    "threshold_curve",
]

#: Where the curves are evaluated: 0.00, 0.01, ..., 1.00.
THRESHOLDS: NDArray[np.float64] = np.round(np.linspace(0.0, 1.0, 101), 2)


def _pyplot() -> Any:
    try:
        import matplotlib

        matplotlib.use("Agg")  # files only: no display is needed or wanted
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise ConfigError(
            "--plot needs matplotlib, which is not installed: pip install 'modtriage[plot]'"
        ) from exc
    return plt


def _panels(plt: Any, count: int) -> tuple[Figure, list[Any]]:
    """A figure of ``count`` panels, three to a row; the panels left over are hidden."""
    cols = min(3, count)
    nrows = -(-count // cols)
    fig, axes = plt.subplots(
        nrows, cols, figsize=(max(6.4, 4.2 * cols), 3.2 * nrows + 0.6), squeeze=False
    )
    for ax in axes.flat[count:]:
        ax.set_visible(False)
    return fig, list(axes.flat[:count])


def threshold_curve(
    truth: Sequence[bool], scores: Sequence[float], thresholds: NDArray[np.float64] = THRESHOLDS
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Precision and recall of ``score >= t`` for each threshold ``t``.

    Precision is 1.0 where nothing is predicted (no false alarm was raised), recall 0.0 where
    there is no positive row.
    """
    t = np.asarray(truth, dtype=bool)
    s = np.asarray(scores, dtype=np.float64)
    predicted = s[None, :] >= thresholds[:, None]
    tp = (predicted & t[None, :]).sum(axis=1)
    n_pred = predicted.sum(axis=1)
    precision = np.where(n_pred > 0, tp / np.maximum(n_pred, 1), 1.0)
    recall = tp / t.sum() if t.any() else np.zeros(len(thresholds))
    return precision, recall


def moderation_figure(
    rows: Sequence[ModerationRow],
    scores: Sequence[Mapping[str, float]],
    policy: Policy,
    *,
    title: str,
) -> Figure:
    """One panel per category the rows annotate with a positive and the policy defines."""
    plt = _pyplot()
    per: dict[str, tuple[list[bool], list[float]]] = {}
    for row, row_scores in zip(rows, scores, strict=True):
        for category, label in row.labels.items():
            if category in policy.categories:
                t, s = per.setdefault(category, ([], []))
                t.append(label == 1)
                s.append(row_scores.get(category, 0.0))
    shown = sorted(c for c, (t, _) in per.items() if any(t))
    if not shown:
        raise ConfigError(
            "--plot: no row is positive for a category the policy defines; nothing to draw"
        )
    fig, axes = _panels(plt, len(shown))
    for ax, category in zip(axes, shown, strict=True):
        truth, cat_scores = per[category]
        precision, recall = threshold_curve(truth, cat_scores)
        ax.plot(THRESHOLDS, precision, label="precision")
        ax.plot(THRESHOLDS, recall, label="recall")
        bands = policy.thresholds(category)
        ax.axvline(bands.review, color="grey", linestyle="--", label=f"review {bands.review}")
        ax.axvline(bands.act, color="black", linestyle=":", label=f"act {bands.act}")
        ax.set(title=f"{category} ({sum(truth)} positive)", xlabel="threshold", ylim=(0, 1.02))
        ax.legend(loc="lower left", fontsize="small")
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def faq_figure(
    rows: Sequence[FaqRow],
    decisions: Sequence[FaqDecision],
    *,
    min_similarity: float,
    min_confidence: float,
    title: str,
) -> Figure:
    """Answered precision, coverage and out-of-scope recall as the similarity floor moves."""
    plt = _pyplot()
    floors = np.round(np.linspace(0.3, 1.0, 71), 2)
    curves: dict[str, list[float]] = {"answered precision": [], "coverage": [], "oos recall": []}
    for floor in floors:
        answered = answered_at(decisions, floor, min_confidence)
        _, precision, coverage, oos = score(rows, [None] * len(rows), answered)
        if all(a is None for a in answered):
            precision = float("nan")  # nothing answered: no precision to draw (not zero)
        for name, value in zip(curves, (precision, coverage, oos), strict=True):
            curves[name].append(value)
    fig: Figure
    fig, ax = plt.subplots(figsize=(6.4, 4.0))
    for name, values in curves.items():
        ax.plot(floors, values, label=name)
    ax.axvline(min_similarity, color="grey", linestyle="--", label=f"in use {min_similarity:.3f}")
    ax.set(
        title=title,
        xlabel=f"min_similarity (min_confidence {min_confidence})",
        ylim=(0, 1.02),
    )
    ax.legend(loc="lower left", fontsize="small")
    fig.tight_layout()
    return fig


def backtest_figure(
    before: Mapping[str, Mapping[str, int]],
    after: Mapping[str, Mapping[str, int]],
    *,
    title: str,
) -> Figure:
    """One panel per category (a backtest report's ``routes_by_category_*``): for each route,
    a bar of the recorded messages (``recorded``) beside one of the candidate's
    (``candidate``)."""
    plt = _pyplot()
    shown = sorted(set(before) | set(after))
    if not shown:
        raise ConfigError("--plot: the history holds no message; nothing to draw")
    routes = list(
        dict.fromkeys(r for side in (before, after) for c in shown for r in side.get(c, {}))
    )
    fig, axes = _panels(plt, len(shown))
    x = np.arange(len(routes))
    for ax, category in zip(axes, shown, strict=True):
        for offset, label, counts in ((-0.2, "recorded", before), (0.2, "candidate", after)):
            heights = [counts.get(category, {}).get(r, 0) for r in routes]
            ax.bar(x + offset, heights, width=0.4, label=label)
        ax.set_xticks(x, routes)
        ax.set(title=category, ylabel="messages")
        ax.legend(loc="upper right", fontsize="small")
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def save(fig: Figure, out: Path) -> None:
    """Write ``fig`` as PNG.

    Raises:
        ConfigError: the file cannot be written (names it).
    """
    plt = _pyplot()
    try:
        fig.savefig(out, format="png", dpi=110)
    except OSError as exc:
        raise ConfigError(f"--plot {out}: cannot write it ({exc.strerror or exc})") from exc
    finally:
        plt.close(fig)
