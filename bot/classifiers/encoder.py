"""The sentence-encoder seam shared by the moderation heads and FAQ matching."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np
from numpy.typing import NDArray

__all__ = ["Encoder"]


class Encoder(Protocol):
    """Embeds texts as L2-normalised float32 vectors, shape ``(len(texts), dim)``.

    The in-process ONNX encoder and the vLLM ``/v1/embeddings`` client give the same vectors,
    so heads and FAQ indexes fitted on one apply to the other.
    """

    name: str
    dim: int

    async def embed(self, texts: Sequence[str]) -> NDArray[np.float32]: ...
