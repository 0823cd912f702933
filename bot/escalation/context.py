"""The recent messages of each channel or thread, kept in Redis for escalation context.

One sorted set per channel (or per thread, for replies), scored by message time and capped at
:data:`KEEP` entries with a TTL, so that memory stays bounded and a redelivered message is
stored once (the member is the message itself).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import redis.asyncio as aioredis
from pydantic import ValidationError

from bot.message import Message
from bot.streams import Streams

__all__ = ["KEEP", "ThreadContext"]

#: Messages kept per channel or thread (the policy may ask for at most 100 of them).
KEEP = 100


class ThreadContext:
    """Records messages as the worker sees them and returns those before a given one."""

    def __init__(self, *, redis: aioredis.Redis, streams: Streams, ttl_s: int = 7 * 86400) -> None:
        self._redis = redis
        self._streams = streams
        self._ttl_s = ttl_s

    def key(self, message: Message) -> str:
        where = [message.platform, message.workspace, message.channel]
        if message.thread and message.thread != message.id:
            where.append(message.thread)
        return self._streams.recent(*where)

    async def record(self, messages: Sequence[Message]) -> None:
        """Remember these messages (blank ones are skipped). Raises redis errors."""
        keys: dict[str, dict[str, float]] = {}
        for message in messages:
            if message.is_blank:
                continue
            keys.setdefault(self.key(message), {})[message.model_dump_json()] = (
                message.ts.timestamp()
            )
        if not keys:
            return
        async with self._redis.pipeline(transaction=False) as pipe:
            for key, members in keys.items():
                pipe.zadd(key, members)
                pipe.zremrangebyrank(key, 0, -(KEEP + 1))
                pipe.expire(key, self._ttl_s)
            await pipe.execute()

    async def before(self, message: Message, limit: int) -> list[Message]:
        """Up to ``limit`` messages of the same channel or thread at or before ``message``,
        oldest first, without ``message`` itself. Raises redis errors."""
        if limit <= 0:
            return []
        raw: Any = await self._redis.zrevrangebyscore(
            self.key(message), message.ts.timestamp(), "-inf", start=0, num=limit + 1
        )
        found: list[Message] = []
        for member in raw:
            try:
                earlier = Message.model_validate_json(member)
            except ValidationError:
                continue  # written by another version; context is best effort
            if earlier.key != message.key:
                found.append(earlier)
        return list(reversed(found[:limit]))
