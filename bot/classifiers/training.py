"""``modtriage train``: fit the moderation heads for a policy, calibrate them, measure them.

The rows and their weights are :mod:`bot.classifiers.training_rows`; the heads are fitted on
the train split, calibrated on the calibration split and validated, per source, on the
validation split, beside the heads in use when they are given.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
from numpy.typing import NDArray
from pydantic import BaseModel, ConfigDict, Field

from bot.classifiers.calibration import Isotonic, fit_isotonic
from bot.classifiers.dataset import cached_embeddings
from bot.classifiers.evaluation import EvalReport, evaluate
from bot.classifiers.heads import HeadCard, Heads, TrainConfig, fit_mlp
from bot.classifiers.onnx_encoder import OnnxEncoder
from bot.classifiers.slices import HARD_NEGATIVE_SOURCES, SliceRate, hate_slice
from bot.classifiers.training_rows import TrainingRow, collect_rows, row_matrices
from bot.errors import ConfigError
from bot.policy import Policy
from bot.progress import Advance, no_progress

__all__ = ["TrainResult", "train_heads"]

log = logging.getLogger(__name__)

_MIN_CALIBRATION = 5


class TrainResult(BaseModel):
    """The fitted heads and what they scored on held-out rows."""

    model_config = ConfigDict(frozen=True)

    heads: Heads
    validation: dict[str, EvalReport]
    hard_negatives: SliceRate | None = Field(
        description="neutral toxigen seeds and the team's counter-speech, reports, negation, "
        "group mentions and reclaimed terms: share flagged as hate (target <= 5 %)"
    )
    perturbations: SliceRate | None = Field(
        default=None,
        description="DynaHate test-split perturbations that are not hateful (counter-speech, "
        "negation, neutral mentions made from a hateful original): share flagged as hate "
        "(target <= 10 %)",
    )
    rows: dict[str, dict[str, int]]
    seconds: float
    overall: EvalReport | None = Field(
        default=None, description="all validation rows together; None when there are none"
    )
    baseline: dict[str, EvalReport] | None = Field(
        default=None,
        description="the heads given as ``baseline`` (those the bot uses) on the same "
        "validation rows, per source",
    )
    baseline_overall: EvalReport | None = None

    @property
    def worse_than_baseline(self) -> bool:
        """The figure heads are compared by: flagged F1 on all validation rows together,
        lower than the baseline's at the three decimals printed."""
        if self.overall is None or self.baseline_overall is None:
            return False
        return round(self.overall.flagged.f1, 3) < round(self.baseline_overall.flagged.f1, 3)


def _embed(
    rows: Sequence[TrainingRow], *, encoder: OnnxEncoder, cache_dir: Path, advance: Advance
) -> NDArray[np.float32]:
    out = np.empty((len(rows), encoder.dim), dtype=np.float32)
    by_file: dict[str, list[int]] = {}
    for i, item in enumerate(rows):
        by_file.setdefault(item.file, []).append(i)
    for file, idx in sorted(by_file.items()):
        texts = [rows[i].row.text for i in idx]
        out[idx] = cached_embeddings(
            texts, encoder=encoder, cache_dir=cache_dir, label=file, advance=advance
        )
    return out


def train_heads(
    policy: Policy,
    *,
    encoder: OnnxEncoder,
    data_dir: Path | None,
    cache_dir: Path,
    config: TrainConfig | None = None,
    calibration: Mapping[str, Isotonic | None] | None = None,
    baseline: Heads | None = None,
    rows: list[TrainingRow] | None = None,
    advance: Advance = no_progress,
) -> TrainResult:
    """Fit, calibrate and validate heads for every category of ``policy``.

    ``calibration`` maps a category to an isotonic map fitted elsewhere (the out-of-source
    predictions of leave-source-out folds, ``tools/loso.py``); a category it names is not
    calibrated on the in-source calibration split. ``baseline`` (the heads in use) is
    validated on the same rows, for ``TrainResult.worse_than_baseline``. ``advance`` is told
    of the rows embedded (a progress bar); ``rows`` are those :func:`collect_rows` gives for
    ``policy``, ``data_dir`` and ``config`` when the caller has them already.

    Raises:
        ConfigError: no usable data, or a category with no positive or no negative example.
    """
    config = config or TrainConfig()
    started = time.perf_counter()
    categories = tuple(policy.categories)
    if rows is None:
        rows = collect_rows(
            policy, data_dir, seed=config.seed, max_rows_per_file=config.max_rows_per_file
        )
    x = _embed(rows, encoder=encoder, cache_dir=cache_dir, advance=advance)
    y, mask, weight = row_matrices(rows, categories)
    splits = np.array([r.split for r in rows])
    train = splits == "train"
    for j, category in enumerate(categories):
        pos = int((y[train, j] * mask[train, j]).sum())
        neg = int(((1 - y[train, j]) * mask[train, j]).sum())
        if not pos or not neg:
            raise ConfigError(
                f"category {category!r} has {pos} positive and {neg} negative training rows; "
                "add examples.positive and examples.negative to it in the policy"
            )
    w1, b1, w2, b2 = fit_mlp(x[train], y[train], mask[train], weight[train], config=config)
    draft = Heads(
        categories=categories,
        w1=w1,
        b1=b1,
        w2=w2,
        b2=b2,
        cards={},
        encoder_sha256=encoder.sha256,
        config=config,
        revision="draft",
    )
    calib = splits == "calib"
    raw = draft.raw(x[calib])
    # calibrate on every row the category was trained on (implicit negatives included, at
    # their weight): explicit rows alone over-represent positives (C-SSRS is 78 % self-harm)
    in_calib = mask[calib] > 0
    calib_weight = weight[calib]
    cards = {}
    sources: dict[str, set[str]] = {c: set() for c in categories}
    for item in rows:
        for category in item.row.labels:
            sources[category].add(item.row.source)
    for j, category in enumerate(categories):
        rows_j = in_calib[:, j]
        yj = y[calib][rows_j, j]
        fitted = None
        given = calibration.get(category) if calibration is not None else None
        if given is not None:
            fitted = given
        elif (yj == 1).sum() >= _MIN_CALIBRATION and (yj == 0).sum() >= _MIN_CALIBRATION:
            wj = np.where(calib_weight[rows_j, j] < 1.0, calib_weight[rows_j, j], 1.0)
            fitted = fit_isotonic(raw[rows_j, j], yj, weight=wj.astype(np.float32))
        cards[category] = HeadCard(
            n_pos=int((y[train, j] * mask[train, j]).sum()),
            n_neg=int(((1 - y[train, j]) * mask[train, j]).sum()),
            sources=tuple(sorted(sources[category])),
            calibration=fitted,
            calibrated_on="out-of-source" if given is not None else "in-source",
        )
    digest = hashlib.sha256()
    for array in (w1, b1, w2, b2):
        if array is not None:
            digest.update(array.tobytes())
    heads = draft.model_copy(
        update={
            "cards": cards,
            "revision": digest.hexdigest()[:10],
            "extra": {"policy": policy.name, "policy_version": policy.version},
        }
    )
    validation, overall = _validate(heads, rows, x, policy)
    baseline_reports, baseline_overall = (
        _validate(baseline, rows, x, policy) if baseline is not None else (None, None)
    )
    hard = perturbed = None
    if "hate" in categories:
        hard = hate_slice(heads, rows, x, policy, HARD_NEGATIVE_SOURCES)
        perturbed = hate_slice(heads, rows, x, policy, ("dynahate",), level="perturbation")
    counts: dict[str, dict[str, int]] = {}
    for item in rows:
        per = counts.setdefault(item.row.source, {"train": 0, "calib": 0, "val": 0})
        per[item.split] += 1
    return TrainResult(
        heads=heads,
        validation=validation,
        hard_negatives=hard,
        perturbations=perturbed,
        rows=dict(sorted(counts.items())),
        seconds=time.perf_counter() - started,
        overall=overall,
        baseline=baseline_reports,
        baseline_overall=baseline_overall,
    )


def _validate(
    heads: Heads, rows: Sequence[TrainingRow], x: NDArray[np.float32], policy: Policy
) -> tuple[dict[str, EvalReport], EvalReport | None]:
    """One report per source on its validation rows, and one on all of them together."""
    val = [i for i, r in enumerate(rows) if r.split == "val"]
    if not val:
        return {}, None
    scores = heads.scores(x[val])
    per_row = [
        {c: float(scores[p, j]) for j, c in enumerate(heads.categories)} for p in range(len(val))
    ]
    by_source: dict[str, list[int]] = {}
    for pos, i in enumerate(val):
        by_source.setdefault(rows[i].row.source, []).append(pos)
    reports = {}
    for source, idx in sorted(by_source.items()):
        reports[source] = evaluate(
            [rows[val[p]].row for p in idx],
            [per_row[p] for p in idx],
            policy,
            dataset=source,
            seconds=0.0,
            latencies_ms=[],
        )
    overall = evaluate(
        [rows[i].row for i in val], per_row, policy, dataset="all", seconds=0.0, latencies_ms=[]
    )
    return reports, overall
