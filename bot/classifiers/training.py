"""``modtriage train``: fit the moderation heads for a policy, calibrate them, measure them.

Rows come from three places, each with its own weight:

* public data under ``../shared/data/moderation/`` (split 70/15/15 into train, calibration and
  validation by a hash of the text);
* rows the team wrote (``written_examples.yaml``: hard negatives and positives for categories
  without public data), split by template so validation templates are never trained on;
* the policy's own examples, all used for training (they are the community's definition).

Labels for categories the policy does not define are dropped. A row whose annotated labels are
all 0 also counts, at a low weight, as a negative for the categories its source did not
annotate (a clean tweet is not a sexual solicitation); this is what lets categories with only
written positives learn where their boundary is.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import yaml
from numpy.typing import NDArray
from pydantic import BaseModel, ConfigDict, Field

from bot.classifiers.calibration import Isotonic, fit_isotonic
from bot.classifiers.dataset import ModerationRow, cached_embeddings, read_rows, split_of
from bot.classifiers.evaluation import EvalReport, evaluate
from bot.classifiers.heads import HeadCard, Heads, TrainConfig, fit_mlp
from bot.classifiers.onnx_encoder import OnnxEncoder
from bot.classifiers.slices import HARD_NEGATIVE_SOURCES, SliceRate, hate_slice
from bot.errors import ConfigError
from bot.policy import Policy

__all__ = [
    "TrainResult",
    "TrainingRow",
    "collect_rows",
    "public_split",
    "row_matrices",
    "train_heads",
    "written_rows",
]

log = logging.getLogger(__name__)

WRITTEN_FILE = Path(__file__).resolve().parent / "written_examples.yaml"
WEIGHTS = {"public": 1.0, "written": 8.0, "policy": 8.0, "implicit": 0.2}
#: Public files are weighted by sqrt(BALANCE_ROWS / rows in the file), within BALANCE_RANGE:
#: 800 YouTube comments then count for about as much as 5,000 SMS and 25,000 tweets count for
#: a little less than their size, so one big corpus does not define a category alone.
BALANCE_ROWS = 5_000
BALANCE_RANGE = (0.5, 3.0)
_MIN_CALIBRATION = 5


class TrainingRow(BaseModel):
    """A row with where it came from and which split it belongs to."""

    model_config = ConfigDict(frozen=True)

    row: ModerationRow
    origin: str  # public | written | policy
    split: str  # train | calib | val
    file: str  # the cache label: which file the text came from


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


def written_rows(path: Path = WRITTEN_FILE, *, seed: int = 0) -> list[TrainingRow]:
    """The team's rows, expanded over groups; split by template."""
    spec = yaml.safe_load(path.read_text(encoding="utf-8"))
    groups: list[str] = spec["groups"]
    out = []
    for block in spec["sets"]:
        labels = {k: int(v) for k, v in block["labels"].items()}
        for template in block["templates"]:
            split = _template_split(template, seed=seed)
            if "{group}" in template:
                start = _hash(template) % len(groups)
                chosen = [groups[(start + 3 * i) % len(groups)] for i in range(6)]
                texts = [template.format(group=g) for g in chosen]
            else:
                texts = [template]
            for text in texts:
                row = ModerationRow(text=text, labels=labels, source=block["source"])
                out.append(TrainingRow(row=row, origin="written", split=split, file="written"))
    return out


def _template_split(template: str, *, seed: int) -> str:
    """60 % train, 10 % calib, 30 % val: more held out than public rows, because these rows
    are what the hard-negative targets are measured on."""
    bucket = _hash(f"{seed}:template:{template}") % 100
    if bucket < 60:
        return "train"
    return "calib" if bucket < 70 else "val"


def _hash(text: str) -> int:
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:4], "big")


def _policy_rows(policy: Policy) -> list[TrainingRow]:
    out = []
    for name, category in policy.categories.items():
        for text, label in [(t, 1) for t in category.examples.positive] + [
            (t, 0) for t in category.examples.negative
        ]:
            row = ModerationRow(text=text, labels={name: label}, source="policy-examples")
            out.append(TrainingRow(row=row, origin="policy", split="train", file="policy"))
    return out


#: ``meta.split`` values of files that ship their own splits (DynaHate, HatemojiBuild,
#: HateXplain, SBIC, ConvAbuse).
_SOURCE_SPLITS = frozenset({"train", "dev", "valid", "val", "test"})


def public_split(row: ModerationRow, *, seed: int = 0) -> str:
    """The split of a public row: a file's own test split is validation only, its other
    splits are train or calibration by the text hash; files without splits go 70/15/15."""
    own = row.meta.get("split")
    if own == "test":
        return "val"
    split = split_of(row.text, seed=seed)
    if own in _SOURCE_SPLITS:
        return "calib" if split == "calib" else "train"
    return split


def _capped(rows: list[ModerationRow], cap: int) -> list[ModerationRow]:
    """At most ``cap`` rows, chosen by a hash of the text (stable), in file order."""
    if len(rows) <= cap:
        return rows
    ranked = sorted(range(len(rows)), key=lambda i: _hash(rows[i].text))
    keep = set(ranked[:cap])
    return [row for i, row in enumerate(rows) if i in keep]


def collect_rows(
    policy: Policy, data_dir: Path | None, *, seed: int = 0, max_rows_per_file: int = 30_000
) -> list[TrainingRow]:
    """Public, written and policy rows, labels limited to the policy's categories.

    ``data_dir`` is the folder holding ``moderation/*.jsonl``; None trains without public data.
    Files longer than ``max_rows_per_file`` are sampled (by text hash) to keep the first
    embedding pass short on two cores.

    Raises:
        ConfigError: ``data_dir`` has no ``moderation/*.jsonl`` files, or a file is malformed.
    """
    rows: list[TrainingRow] = []
    if data_dir is not None:
        files = sorted((data_dir / "moderation").glob("*.jsonl"))
        if not files:
            raise ConfigError(
                f"no moderation data in {data_dir / 'moderation'}; pass --data pointing at the "
                "folder that holds moderation/*.jsonl, or --no-public to train from the "
                "policy and written examples only"
            )
        for file in files:
            for row in _capped(read_rows(file), max_rows_per_file):
                split = public_split(row, seed=seed)
                rows.append(TrainingRow(row=row, origin="public", split=split, file=file.stem))
    rows += written_rows(seed=seed)
    rows += _policy_rows(policy)
    known = set(policy.categories)
    kept = []
    for item in rows:
        labels = {k: v for k, v in item.row.labels.items() if k in known}
        if labels:
            kept.append(
                item.model_copy(update={"row": item.row.model_copy(update={"labels": labels})})
            )
    return kept


def _embed(
    rows: Sequence[TrainingRow], *, encoder: OnnxEncoder, cache_dir: Path
) -> NDArray[np.float32]:
    out = np.empty((len(rows), encoder.dim), dtype=np.float32)
    by_file: dict[str, list[int]] = {}
    for i, item in enumerate(rows):
        by_file.setdefault(item.file, []).append(i)
    for file, idx in sorted(by_file.items()):
        texts = [rows[i].row.text for i in idx]
        out[idx] = cached_embeddings(texts, encoder=encoder, cache_dir=cache_dir, label=file)
    return out


def row_matrices(
    rows: Sequence[TrainingRow], categories: Sequence[str]
) -> tuple[NDArray[np.float32], NDArray[np.float32], NDArray[np.float32]]:
    k = len(categories)
    sizes: dict[str, int] = {}
    for item in rows:
        sizes[item.file] = sizes.get(item.file, 0) + 1
    y = np.zeros((len(rows), k), dtype=np.float32)
    mask = np.zeros((len(rows), k), dtype=np.float32)
    weight = np.zeros((len(rows), k), dtype=np.float32)
    for i, item in enumerate(rows):
        clean = not item.row.flagged
        balance = 1.0
        if item.origin == "public":
            balance = float(np.clip(np.sqrt(BALANCE_ROWS / sizes[item.file]), *BALANCE_RANGE))
        for j, category in enumerate(categories):
            if category in item.row.labels:
                y[i, j] = item.row.labels[category]
                mask[i, j] = 1.0
                weight[i, j] = WEIGHTS[item.origin] * balance
            elif clean and item.origin != "policy":
                mask[i, j] = 1.0
                weight[i, j] = WEIGHTS["implicit"]
    return y, mask, weight


def train_heads(
    policy: Policy,
    *,
    encoder: OnnxEncoder,
    data_dir: Path | None,
    cache_dir: Path,
    config: TrainConfig | None = None,
    calibration: Mapping[str, Isotonic | None] | None = None,
) -> TrainResult:
    """Fit, calibrate and validate heads for every category of ``policy``.

    ``calibration`` maps a category to an isotonic map fitted elsewhere (the out-of-source
    predictions of leave-source-out folds, ``tools/loso.py``); a category it names is not
    calibrated on the in-source calibration split.

    Raises:
        ConfigError: no usable data, or a category with no positive or no negative example.
    """
    config = config or TrainConfig()
    started = time.perf_counter()
    categories = tuple(policy.categories)
    rows = collect_rows(
        policy, data_dir, seed=config.seed, max_rows_per_file=config.max_rows_per_file
    )
    x = _embed(rows, encoder=encoder, cache_dir=cache_dir)
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
    validation = _validate(heads, rows, x, policy)
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
    )


def _validate(
    heads: Heads, rows: Sequence[TrainingRow], x: NDArray[np.float32], policy: Policy
) -> dict[str, EvalReport]:
    """One report per source, on its validation rows only."""
    val = [i for i, r in enumerate(rows) if r.split == "val"]
    if not val:
        return {}
    scores = heads.scores(x[val])
    by_source: dict[str, list[int]] = {}
    for pos, i in enumerate(val):
        by_source.setdefault(rows[i].row.source, []).append(pos)
    reports = {}
    for source, idx in sorted(by_source.items()):
        source_rows = [rows[val[p]].row for p in idx]
        source_scores = [
            {c: float(scores[p, j]) for j, c in enumerate(heads.categories)} for p in idx
        ]
        reports[source] = evaluate(
            source_rows, source_scores, policy, dataset=source, seconds=0.0, latencies_ms=[]
        )
    return reports
