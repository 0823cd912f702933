"""The adapters' side of the ingest stream."""

from __future__ import annotations

import redis.asyncio as aioredis

from bot.message import Message
from bot.streams import Streams, encode_message

__all__ = ["Ingest"]


class Ingest:
    """Appends normalised messages to the ingest stream. Never waits on a model."""

    def __init__(self, *, redis: aioredis.Redis, streams: Streams, maxlen: int = 100_000) -> None:
        self._redis = redis
        self._streams = streams
        self._maxlen = maxlen

    async def publish(self, message: Message) -> str:
        """Returns the stream entry id. Raises redis errors when Redis is unreachable."""
        entry_id = await self._redis.xadd(
            self._streams.ingest,
            encode_message(message),  # type: ignore[arg-type]
            maxlen=self._maxlen,
            approximate=True,
        )
        return entry_id.decode() if isinstance(entry_id, bytes) else str(entry_id)
