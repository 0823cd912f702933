"""The rows ``modtriage train`` learns from: where they come from, their splits and weights.

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
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import yaml
from numpy.typing import NDArray
from pydantic import BaseModel, ConfigDict

from bot.classifiers.dataset import ModerationRow, read_rows, require_data, split_of
from bot.policy import Policy

__all__ = [
    "WEIGHTS",
    "TrainingRow",
    "collect_rows",
    "public_split",
    "row_matrices",
    "written_rows",
]

WRITTEN_FILE = Path(__file__).resolve().parent / "written_examples.yaml"
WEIGHTS = {"public": 1.0, "written": 8.0, "policy": 8.0, "implicit": 0.2}
#: Public files are weighted by sqrt(BALANCE_ROWS / rows in the file), within BALANCE_RANGE:
#: 800 YouTube comments then count for about as much as 5,000 SMS and 25,000 tweets count for
#: a little less than their size, so one big corpus does not define a category alone.
BALANCE_ROWS = 5_000
BALANCE_RANGE = (0.5, 3.0)
#: What ``modtriage train`` offers when there is no public data.
NO_PUBLIC = ", or --no-public to train from the policy and written examples only"


class TrainingRow(BaseModel):
    """A row with where it came from and which split it belongs to."""

    model_config = ConfigDict(frozen=True)

    row: ModerationRow
    origin: str  # public | written | policy
    split: str  # train | calib | val
    file: str  # the cache label: which file the text came from


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
        require_data(data_dir, otherwise=NO_PUBLIC)
        for file in sorted((data_dir / "moderation").glob("*.jsonl")):
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
