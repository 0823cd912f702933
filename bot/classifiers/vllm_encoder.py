"""The sentence encoder served by vLLM on ``/v1/embeddings``: same vectors, same heads."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

from bot.classifiers.breaker import CircuitBreaker
from bot.classifiers.retry import RetryPolicy, call_with_retries
from bot.errors import ClassifierOutputInvalid

if TYPE_CHECKING:
    from openai import AsyncOpenAI

__all__ = ["VllmEncoder"]


class VllmEncoder:
    """Implements :class:`~bot.classifiers.encoder.Encoder` over a vLLM pooling server
    (``--runner pooling``) serving the fine-tuned moderation encoder
    (``bot/classifiers/model/hf``), so heads and FAQ indexes fitted on the in-process encoder
    apply unchanged. Long texts are truncated to ``max_tokens`` by the
    server (``truncate_prompt_tokens``), as the in-process encoder truncates them.

    Texts go in batches of ``batch_size``, at most ``max_concurrency`` batches in flight, with
    the same retries and circuit breaker as the classifier.
    """

    def __init__(
        self,
        *,
        client: AsyncOpenAI,
        model: str = "modtriage-minilm-l6-moderation",
        dim: int = 384,
        max_tokens: int = 256,
        batch_size: int = 64,
        max_concurrency: int = 4,
        retry: RetryPolicy | None = None,
        breaker: CircuitBreaker | None = None,
    ) -> None:
        self._client = client
        self._model = model
        self.dim = dim
        self._max_tokens = max_tokens
        self._batch_size = batch_size
        self._semaphore = asyncio.Semaphore(max_concurrency)
        self._retry = retry or RetryPolicy()
        self.breaker = breaker or CircuitBreaker()
        self.name = f"vllm:{model}"

    async def aclose(self) -> None:
        """Close the HTTP client (the one given at construction: this object owns it)."""
        await self._client.close()

    async def embed(self, texts: Sequence[str]) -> NDArray[np.float32]:
        """L2-normalised float32 vectors, shape ``(len(texts), dim)``.

        Raises:
            ClassifierUnavailable, ClassifierTimeout: the server cannot answer (after retries).
            ClassifierOutputInvalid: the server answered vectors of the wrong shape.
        """
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        batches = [
            list(texts[i : i + self._batch_size]) for i in range(0, len(texts), self._batch_size)
        ]
        parts = await asyncio.gather(*(self._batch(b) for b in batches))
        return np.concatenate(parts, axis=0)

    async def _batch(self, texts: list[str]) -> NDArray[np.float32]:
        async with self._semaphore:
            response = await call_with_retries(
                lambda: self._client.embeddings.create(
                    model=self._model,
                    input=texts,
                    encoding_format="float",
                    extra_body={"truncate_prompt_tokens": self._max_tokens},
                ),
                model=self.name,
                policy=self._retry,
                breaker=self.breaker,
            )
        rows = sorted(response.data, key=lambda d: d.index)
        vectors = np.asarray([row.embedding for row in rows], dtype=np.float32)
        if vectors.shape != (len(texts), self.dim):
            raise ClassifierOutputInvalid(
                self.name, f"expected {len(texts)} vectors of {self.dim}, got {vectors.shape}"
            )
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        normalised: NDArray[np.float32] = (vectors / np.maximum(norms, 1e-12)).astype(np.float32)
        return normalised
