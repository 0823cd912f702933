"""Answers cached by the content hash of what would be sent, so a repeat costs nothing.

A request in flight is marked too (``SET NX PX`` on the same hash), so that a second
escalation of the same content — the same message picked up again by another worker after a
slow answer outlasted the first worker's claim, or the same words posted twice at once — waits
for the first one's answer instead of paying for another.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import secrets
from typing import Any

import redis.asyncio as aioredis

from bot.connection import register_script
from bot.streams import Streams

__all__ = ["AnswerCache", "content_hash"]

#: Deletes the in-flight mark only if it is still the holder's (it may have expired and been
#: taken by someone else since).
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


def content_hash(*, policy_version: str, model: str, system: str, user: str) -> str:
    """The hash of the policy version, the model and the redacted prompt."""
    payload = json.dumps([policy_version, model, system, user], ensure_ascii=False)
    return hashlib.sha256(payload.encode()).hexdigest()


class AnswerCache:
    def __init__(
        self, *, redis: aioredis.Redis, streams: Streams, ttl_s: int, poll_s: float = 0.1
    ) -> None:
        self._redis = redis
        self._streams = streams
        self._ttl_s = ttl_s
        self._poll_s = poll_s
        self._release = register_script(redis, _RELEASE)

    def key(self, digest: str) -> str:
        return self._streams.frontier_cache(digest)

    def inflight_key(self, digest: str) -> str:
        return self._streams.frontier_inflight(digest)

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

    async def hold(self, digest: str, *, for_s: float) -> str | None:
        """Mark a request for ``digest`` as in flight for at most ``for_s`` seconds.

        Returns a token to :meth:`release` with, or None when another request holds the mark.
        With the cache off nobody could share the answer, so the mark is always granted.
        """
        token = secrets.token_hex(8)
        if self._ttl_s <= 0:
            return token
        taken = await self._redis.set(
            self.inflight_key(digest), token, nx=True, px=max(1, int(for_s * 1000))
        )
        return token if taken else None

    async def release(self, digest: str, token: str) -> None:
        if self._ttl_s > 0:
            await self._release(keys=[self.inflight_key(digest)], args=[token])

    async def wait(self, digest: str, *, within_s: float) -> dict[str, Any] | None:
        """The answer the holder of the in-flight mark is fetching: None when the holder let
        go without one (its request failed) or ``within_s`` passed first."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within_s
        while True:
            answer = await self.get(digest)
            if answer is not None:
                return answer
            if not await self._redis.exists(self.inflight_key(digest)):
                return await self.get(digest)  # it may have landed just before the release
            if loop.time() >= deadline:
                return None
            await asyncio.sleep(self._poll_s)
