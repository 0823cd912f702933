"""When members joined, per tenant: for holding a newcomer's links and mentions for review.

A member who joins the workspace (Slack ``team_join``) or the server (Discord member join) is
recorded with the time, in a sorted set per tenant (``{tenant}:raid:joined``); entries older
than :data:`KEEP_S` are dropped as new ones come. The pipeline asks for a batch's authors in
one round trip (:meth:`Newcomers.joined_at`).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import redis.asyncio as aioredis

from bot.keys import Streams
from bot.tenant import Tenant

__all__ = ["KEEP_S", "Newcomers"]

#: How long a join is remembered: the longest ``raid.newcomer_hours`` allows (30 days).
KEEP_S = 30 * 86400


class Newcomers:
    def __init__(self, *, redis: aioredis.Redis, streams: Streams) -> None:
        self._redis = redis
        self._streams = streams

    async def joined(self, tenant: Tenant, member: str, at: datetime) -> None:
        """Record that ``member`` joined at ``at``. Raises RedisError."""
        key = self._streams.tenant(tenant).raid("joined")
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.zadd(key, {member: at.timestamp()})
            pipe.zremrangebyscore(key, "-inf", at.timestamp() - KEEP_S)
            pipe.expire(key, KEEP_S)
            await pipe.execute()

    async def joined_at(self, tenant: Tenant, members: Sequence[str]) -> dict[str, float]:
        """When each of ``members`` joined (epoch seconds), for those recorded. RedisError."""
        if not members:
            return {}
        key = self._streams.tenant(tenant).raid("joined")
        scores: Any = await self._redis.zmscore(key, list(members))
        return {m: float(s) for m, s in zip(members, scores, strict=True) if s is not None}
