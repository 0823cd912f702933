"""Moderation rows in the evaluation format, and their embeddings cached on disk.

The format (DESIGN.md, "Evaluation formats"): one JSON object per line,
``{"text": str, "labels": {category: 0|1}, "source": str, "meta": {...}?}``; ``labels`` holds
only the categories the source annotated.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray
from pydantic import BaseModel, ConfigDict, Field

from bot.classifiers.onnx_encoder import OnnxEncoder
from bot.errors import ConfigError
from bot.jsonl import read_jsonl
from bot.progress import Advance, no_progress

__all__ = ["ModerationRow", "cached_embeddings", "read_rows", "require_data", "split_of"]


class ModerationRow(BaseModel):
    """One labelled text."""

    model_config = ConfigDict(frozen=True)

    text: str
    labels: dict[str, int] = Field(description="annotated categories only: 0 or 1")
    source: str
    meta: dict[str, Any] = {}

    @property
    def flagged(self) -> bool:
        return any(v == 1 for v in self.labels.values())


def read_rows(path: Path) -> list[ModerationRow]:
    """Every row of a moderation JSONL file.

    Raises:
        ConfigError: the file cannot be read, or a line is not a row (its number is named).
    """
    rows = read_jsonl(
        path,
        ModerationRow,
        expected='{"text": str, "labels": {category: 0|1}, "source": str, "meta": {...}}',
    )
    for number, row in enumerate(rows, start=1):
        bad = {k: v for k, v in row.labels.items() if v not in (0, 1)}
        if bad:
            raise ConfigError(f"{path}: row {number}: labels must be 0 or 1, got {bad}")
    return rows


def require_data(data_dir: Path, *, otherwise: str = "") -> Path:
    """``data_dir`` when it holds ``moderation/*.jsonl``; ``otherwise`` is an alternative to
    offer (``, or --no-public ...``).

    Raises:
        ConfigError: it does not; the message says where the data comes from and to pass
            ``--data``.
    """
    if any((data_dir / "moderation").glob("*.jsonl")):
        return data_dir
    found = "has no moderation/*.jsonl" if data_dir.is_dir() else "does not exist"
    raise ConfigError(
        f"--data {data_dir} {found}: the labelled data is the public sets listed in "
        "bot/classifiers/DATA_CARD.md, one moderation/<source>.jsonl each (DESIGN.md rows), "
        f"kept outside the repo; pass --data <the folder that holds moderation/>{otherwise}"
    )


def split_of(text: str, *, seed: int = 0) -> str:
    """'train' (70 %), 'calib' (15 %) or 'val' (15 %), fixed by the text itself.

    Hashing the normalised text keeps duplicates (retweets, repeated spam) in one split.
    """
    key = f"{seed}:{' '.join(text.lower().split())}".encode()
    bucket = int.from_bytes(hashlib.sha256(key).digest()[:4], "big") % 100
    if bucket < 70:
        return "train"
    return "calib" if bucket < 85 else "val"


_EMBED_CHUNK = 256


def cached_embeddings(
    texts: Sequence[str],
    *,
    encoder: OnnxEncoder,
    cache_dir: Path,
    label: str,
    advance: Advance = no_progress,
) -> NDArray[np.float32]:
    """Embeddings of ``texts``, read from ``cache_dir`` when this encoder already saw them.

    The cache file is named by ``label`` and keyed by the encoder's sha256 and a hash of the
    texts, so a changed file or a different encoder never reads stale vectors. ``advance`` is
    told of the texts done, cached ones at once.
    """
    digest = hashlib.sha256(json.dumps(list(texts)).encode()).hexdigest()[:16]
    path = cache_dir / f"{label}-{encoder.sha256[:12]}-{digest}.npy"
    if path.is_file():
        vectors = np.load(path)
        if vectors.shape == (len(texts), encoder.dim):
            advance(len(texts))
            return np.asarray(vectors, dtype=np.float32)
    vectors = np.empty((len(texts), encoder.dim), dtype=np.float32)
    for start in range(0, len(texts), _EMBED_CHUNK):
        chunk = texts[start : start + _EMBED_CHUNK]
        vectors[start : start + len(chunk)] = encoder.embed_sync(chunk)
        advance(len(chunk))
    cache_dir.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.npy")
    np.save(tmp, vectors)
    tmp.replace(path)
    return vectors
