"""Per-category heads over sentence embeddings: a small shared MLP, calibrated per category.

Multi-label with a mask: each training row carries labels only for the categories its source
annotated, and the loss ignores the others. Fitted with full-batch-free minibatch Adam in
numpy, seeded, so the same data and seed give the same heads byte for byte.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray
from pydantic import BaseModel, ConfigDict, Field

from bot.classifiers.calibration import Isotonic
from bot.errors import ConfigError

__all__ = ["HeadCard", "Heads", "TrainConfig", "fit_mlp"]

Array = NDArray[np.float32]


class TrainConfig(BaseModel):
    """Hyper-parameters of :func:`fit_mlp`; recorded with the heads."""

    model_config = ConfigDict(frozen=True)

    hidden: int = Field(default=256, ge=0, description="0: one logistic head per category")
    epochs: int = Field(default=30, ge=1)
    batch: int = Field(default=256, ge=8)
    lr: float = Field(default=2e-3, gt=0)
    weight_decay: float = Field(default=1e-4, ge=0)
    seed: int = 0
    ensemble: int = Field(
        default=3, ge=1, description="MLPs from seeds seed.. averaged in logit space (one MLP)"
    )
    max_rows_per_file: int = Field(default=30_000, ge=1, description="public rows per file")


class HeadCard(BaseModel):
    """What one category's head learned from, and how it was calibrated."""

    model_config = ConfigDict(frozen=True)

    n_pos: int
    n_neg: int
    sources: tuple[str, ...]
    calibration: Isotonic | None = Field(
        description="None when too few held-out rows: the raw sigmoid is returned as is"
    )
    calibrated_on: str = Field(
        default="in-source",
        description="in-source: the calibration split of the training sources; out-of-source: "
        "predictions of leave-source-out folds on sources they never saw",
    )


class Heads(BaseModel):
    """Weights plus calibration for a set of categories; saved as ``.npz`` + ``.json``."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    categories: tuple[str, ...]
    w1: Array | None
    b1: Array | None
    w2: Array
    b2: Array
    cards: dict[str, HeadCard]
    encoder_sha256: str
    config: TrainConfig
    revision: str = Field(description="short hash of the weights, part of the model name")
    extra: dict[str, Any] = {}

    def raw(self, x: Array) -> Array:
        """Uncalibrated sigmoid outputs, shape ``(n, len(categories))``."""
        h = x
        if self.w1 is not None and self.b1 is not None:
            h = np.maximum(x @ self.w1 + self.b1, 0.0)
        logits = np.clip(h @ self.w2 + self.b2, -30.0, 30.0)
        out: Array = (1.0 / (1.0 + np.exp(-logits))).astype(np.float32)
        return out

    def scores(self, x: Array) -> Array:
        """Calibrated probabilities, shape ``(n, len(categories))``."""
        raw = self.raw(x)
        out = np.empty_like(raw)
        for j, category in enumerate(self.categories):
            calibration = self.cards[category].calibration
            out[:, j] = raw[:, j] if calibration is None else calibration(raw[:, j])
        return out

    def save(self, stem: Path) -> None:
        """Writes ``stem.npz`` (weights) and ``stem.json`` (everything else)."""
        stem.parent.mkdir(parents=True, exist_ok=True)
        arrays = {"w2": self.w2, "b2": self.b2}
        if self.w1 is not None and self.b1 is not None:
            arrays |= {"w1": self.w1, "b1": self.b1}
        with stem.with_suffix(".npz").open("wb") as fh:
            np.savez_compressed(fh, **arrays)  # type: ignore[arg-type]  # numpy stub: **kwds
        meta = self.model_dump(mode="json", exclude={"w1", "b1", "w2", "b2"})
        stem.with_suffix(".json").write_text(json.dumps(meta, indent=1) + "\n")

    @classmethod
    def load(cls, stem: Path) -> Heads:
        """Raises ConfigError when the files are missing or do not fit together."""
        try:
            meta = json.loads(stem.with_suffix(".json").read_text(encoding="utf-8-sig"))
            with np.load(stem.with_suffix(".npz")) as arrays:
                weights = {k: np.asarray(arrays[k], dtype=np.float32) for k in arrays.files}
        except (OSError, ValueError) as exc:
            raise ConfigError(
                f"cannot load the moderation heads at {stem}.npz/.json: {exc}; "
                "run `modtriage train` to fit them"
            ) from exc
        heads = cls.model_validate(
            {**meta, "w1": weights.get("w1"), "b1": weights.get("b1"), **weights}
        )
        if heads.w2.shape[1] != len(heads.categories):
            raise ConfigError(f"{stem}: weights do not match the categories; retrain them")
        return heads


def fit_mlp(
    x: Array,
    y: Array,
    mask: Array,
    weight: Array,
    *,
    config: TrainConfig,
) -> tuple[Array | None, Array | None, Array, Array]:
    """Minimise masked, weighted binary cross-entropy; returns (w1, b1, w2, b2).

    ``y``, ``mask`` and ``weight`` have shape ``(n, k)``; a row-category pair with mask 0 adds
    nothing. Each category's positives and negatives are balanced to equal total weight.

    ``config.ensemble`` MLPs are fitted from consecutive seeds and averaged in logit space,
    which is itself one MLP: their hidden layers side by side, their output weights divided
    by their number. One MLP's decisions near a threshold move with its seed (the share of
    held-out counter-speech flagged as hate ranged 4-13 % over seeds); the average moves less.
    """
    members = [
        _fit_one(x, y, mask, weight, config=config, seed=config.seed + i)
        for i in range(config.ensemble)
    ]
    count = float(len(members))
    b2 = (np.sum([m[3] for m in members], axis=0) / count).astype(np.float32)
    if not config.hidden:  # logistic heads: the average is the mean of the weights
        return None, None, (np.sum([m[2] for m in members], axis=0) / count).astype(np.float32), b2
    w1 = np.concatenate([m[0] for m in members if m[0] is not None], axis=1)
    b1 = np.concatenate([m[1] for m in members if m[1] is not None])
    w2 = (np.concatenate([m[2] for m in members]) / count).astype(np.float32)
    return w1, b1, w2, b2


def _fit_one(
    x: Array,
    y: Array,
    mask: Array,
    weight: Array,
    *,
    config: TrainConfig,
    seed: int,
) -> tuple[Array | None, Array | None, Array, Array]:
    rng = np.random.default_rng(seed)
    n, dim = x.shape
    k = y.shape[1]
    w = weight * mask
    pos = (w * y).sum(axis=0)
    neg = (w * (1 - y)).sum(axis=0)
    total = np.maximum(pos + neg, 1e-9)
    pos_scale = np.where(pos > 0, total / (2 * np.maximum(pos, 1e-9)), 0.0)
    neg_scale = np.where(neg > 0, total / (2 * np.maximum(neg, 1e-9)), 0.0)
    w = w * np.where(y > 0.5, pos_scale, neg_scale)
    w = (w / np.maximum(w.sum(axis=0, keepdims=True), 1e-9) * n).astype(np.float32)

    params: list[Array] = []
    if config.hidden:
        params += [
            (rng.standard_normal((dim, config.hidden)) * np.sqrt(2.0 / dim)).astype(np.float32),
            np.zeros(config.hidden, dtype=np.float32),
        ]
        head_in = config.hidden
    else:
        head_in = dim
    params += [
        (rng.standard_normal((head_in, k)) * 0.01).astype(np.float32),
        np.zeros(k, dtype=np.float32),
    ]
    m = [np.zeros_like(p) for p in params]
    v = [np.zeros_like(p) for p in params]
    step = 0
    beta1, beta2, eps = 0.9, 0.999, 1e-8
    for _ in range(config.epochs):
        order = rng.permutation(n)
        for start in range(0, n, config.batch):
            idx = order[start : start + config.batch]
            xb, yb, wb = x[idx], y[idx], w[idx]
            if config.hidden:
                pre = xb @ params[0] + params[1]
                h = np.maximum(pre, 0.0)
            else:
                h = xb
            logits = h @ params[-2] + params[-1]
            prob = 1.0 / (1.0 + np.exp(-np.clip(logits, -30, 30)))
            grad_logits = (prob - yb) * wb / len(idx)
            grads = [h.T @ grad_logits, grad_logits.sum(axis=0)]
            if config.hidden:
                grad_h = (grad_logits @ params[-2].T) * (pre > 0)
                grads = [xb.T @ grad_h, grad_h.sum(axis=0), *grads]
            step += 1
            for i, (p, g) in enumerate(zip(params, grads, strict=True)):
                if p.ndim == 2:
                    g = g + config.weight_decay * p
                m[i] = beta1 * m[i] + (1 - beta1) * g
                v[i] = beta2 * v[i] + (1 - beta2) * g * g
                m_hat = m[i] / (1 - beta1**step)
                v_hat = v[i] / (1 - beta2**step)
                p -= (config.lr * m_hat / (np.sqrt(v_hat) + eps)).astype(np.float32)
    if config.hidden:
        return params[0], params[1], params[2], params[3]
    return None, None, params[0], params[1]
