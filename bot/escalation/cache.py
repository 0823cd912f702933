"""Answers cached by the content hash of what would be sent, so a repeat costs nothing."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import redis.asyncio as aioredis

from bot.streams import Streams

__all__ = ["AnswerCache", "content_hash"]


def content_hash(*, policy_version: str, model: str, system: str, user: str) -> str:
    """The hash of the policy version, the model and the redacted prompt."""
    payload = json.dumps([policy_version, model, system, user], ensure_ascii=False)
    return hashlib.sha256(payload.encode()).hexdigest()


class AnswerCache:
    def __init__(self, *, redis: aioredis.Redis, streams: Streams, ttl_s: int) -> None:
        self._redis = redis
        self._streams = streams
        self._ttl_s = ttl_s

    def key(self, digest: str) -> str:
        return f"{self._streams.prefix}:frontier:cache:{digest}"

    async def get(self, digest: str) -> dict[str, Any] | None:
        if self._ttl_s <= 0:
            return None
        raw = await self._redis.get(self.key(digest))
        if raw is None:
            return None
        value = json.loads(raw)
        return value if isinstance(value, dict) else None

    async def put(self, digest: str, answer: dict[str, Any]) -> None:
        if self._ttl_s > 0:
            await self._redis.set(self.key(digest), json.dumps(answer), ex=self._ttl_s)
