"""Isotonic calibration: raw head outputs -> probabilities that mean what they say."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from numpy.typing import NDArray
from pydantic import BaseModel, ConfigDict

from bot.errors import ConfigError

__all__ = ["Isotonic", "fit_isotonic", "read_calibration"]


class Isotonic(BaseModel):
    """A non-decreasing step function through (x, y) knots, linear between them."""

    model_config = ConfigDict(frozen=True)

    x: tuple[float, ...]
    y: tuple[float, ...]

    def __call__(self, raw: NDArray[np.float32]) -> NDArray[np.float32]:
        return np.interp(raw, self.x, self.y).astype(np.float32)


def fit_isotonic(
    raw: NDArray[np.float32], target: NDArray[np.float32], *, weight: NDArray[np.float32]
) -> Isotonic:
    """Pool-adjacent-violators on (raw, target), weighted; a few knots, never decreasing.

    The ends are pinned to 0 and 1 at raw scores 0 and 1 with a pseudo-count, so a category
    with few validation rows never maps anything to a hard 0 or 1.
    """
    order = np.argsort(raw, kind="stable")
    xs = raw[order].astype(np.float64)
    ys = target[order].astype(np.float64)
    ws = weight[order].astype(np.float64)
    # pseudo-counts at both ends: one half-weight row each
    xs = np.concatenate([[0.0], xs, [1.0]])
    ys = np.concatenate([[0.0], ys, [1.0]])
    ws = np.concatenate([[0.5], ws, [0.5]])
    blocks_y: list[float] = []
    blocks_w: list[float] = []
    blocks_x: list[list[float]] = []
    for x, y, w in zip(xs, ys, ws, strict=True):
        blocks_y.append(y)
        blocks_w.append(w)
        blocks_x.append([x, x])
        while len(blocks_y) > 1 and blocks_y[-2] >= blocks_y[-1]:
            y2, w2, x2 = blocks_y.pop(), blocks_w.pop(), blocks_x.pop()
            y1, w1 = blocks_y[-1], blocks_w[-1]
            blocks_y[-1] = (y1 * w1 + y2 * w2) / (w1 + w2)
            blocks_w[-1] = w1 + w2
            blocks_x[-1] = [blocks_x[-1][0], x2[1]]
    knots_x: list[float] = []
    knots_y: list[float] = []
    for (lo, hi), y in zip(blocks_x, blocks_y, strict=True):
        for x in (lo, hi) if hi > lo else (lo,):
            if knots_x and x <= knots_x[-1]:
                continue
            knots_x.append(float(x))
            knots_y.append(float(y))
    if len(knots_x) == 1:
        knots_x, knots_y = [0.0, 1.0], [knots_y[0], knots_y[0]]
    return Isotonic(x=tuple(knots_x), y=tuple(round(v, 6) for v in knots_y))


def read_calibration(path: Path) -> dict[str, Isotonic | None]:
    """Isotonic maps per category from JSON (``{category: {"x": [...], "y": [...]} | null}``).

    Raises:
        ConfigError: the file cannot be read or is not such a map.
    """
    try:
        raw = json.loads(path.read_text(encoding="utf-8-sig"))
        return {
            str(k): (Isotonic.model_validate(v) if v is not None else None) for k, v in raw.items()
        }
    except (OSError, ValueError, AttributeError) as exc:
        raise ConfigError(f"cannot read the calibration file {path}: {exc}") from exc
