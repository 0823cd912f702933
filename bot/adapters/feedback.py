"""Members' helpful / not-helpful votes on FAQ answers, counted in Redis per FAQ entry."""

from __future__ import annotations

import redis.asyncio as aioredis

from bot.streams import Streams

__all__ = ["FaqFeedback"]


class FaqFeedback:
    """One vote per member and answer; totals in the hash ``{ns}:faq:feedback`` as
    ``<faq id>:helpful`` and ``<faq id>:not_helpful``."""

    def __init__(
        self, *, redis: aioredis.Redis, streams: Streams, voter_ttl_s: int = 30 * 86400
    ) -> None:
        self._redis = redis
        self._streams = streams
        self._voter_ttl_s = voter_ttl_s

    @property
    def key(self) -> str:
        return f"{self._streams.prefix}:faq:feedback"

    async def record(self, *, faq_id: str, helpful: bool, voter: str, answer: str) -> bool:
        """Count a vote; False when this member already voted on this answer."""
        voters = f"{self._streams.prefix}:faq:voters:{answer}"
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.sadd(voters, voter)
            pipe.expire(voters, self._voter_ttl_s)
            added, _ = await pipe.execute()
        if not added:
            return False
        field = f"{faq_id}:{'helpful' if helpful else 'not_helpful'}"
        await self._redis.hincrby(self.key, field, 1)
        return True

    async def totals(self) -> dict[str, int]:
        raw = await self._redis.hgetall(self.key)
        return {(k.decode() if isinstance(k, bytes) else str(k)): int(v) for k, v in raw.items()}
