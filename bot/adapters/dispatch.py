"""Reads an adapter's action stream and hands each action to the adapter, exactly once when
the adapter succeeds: an action id is marked done after success, and a done id is skipped."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import redis.asyncio as aioredis
import structlog
from redis.exceptions import RedisError, ResponseError

from bot.adapters.base import Adapter
from bot.errors import ActionError, MalformedMessage
from bot.streams import Streams, decode_action

__all__ = ["ActionDispatcher"]

log = structlog.get_logger(__name__)

_GROUP = "adapters"


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class ActionDispatcher:
    def __init__(
        self,
        *,
        redis: aioredis.Redis,
        streams: Streams,
        adapter: Adapter,
        consumer: str,
        block_ms: int = 200,
        max_attempts: int = 5,
        done_ttl_s: int = 30 * 86400,
    ) -> None:
        self._redis = redis
        self._streams = streams
        self._adapter = adapter
        self._consumer = consumer
        self._block_ms = block_ms
        self._max_attempts = max_attempts
        self._done_ttl_s = done_ttl_s
        self._stream = streams.actions(adapter.platform)

    async def ensure_group(self) -> None:
        try:
            await self._redis.xgroup_create(self._stream, _GROUP, id="0", mkstream=True)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    async def run(self, stop: asyncio.Event) -> None:
        backoff = 0.1
        while not stop.is_set():
            try:
                await self.ensure_group()
                while not stop.is_set():
                    await self.step()
                    backoff = 0.1
            except (RedisError, OSError) as exc:
                log.warning("redis unavailable, retrying", error=str(exc), delay_s=backoff)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=backoff)
                backoff = min(backoff * 2, 5.0)

    async def step(self) -> int:
        """Retry this consumer's own pending actions first, then read new ones."""
        pending: Any = await self._redis.xreadgroup(
            _GROUP, self._consumer, {self._stream: "0"}, count=16
        )
        entries = [(_text(i), f) for _, got in pending or [] for i, f in got if f]
        if not entries:
            reply: Any = await self._redis.xreadgroup(
                _GROUP, self._consumer, {self._stream: ">"}, count=16, block=self._block_ms
            )
            entries = [(_text(i), f) for _, got in reply or [] for i, f in got]
        for entry_id, fields in entries:
            await self._handle(entry_id, fields)
        return len(entries)

    async def _handle(self, entry_id: str, fields: dict[Any, Any]) -> None:
        try:
            action = decode_action(entry_id, fields)
        except MalformedMessage as exc:
            await self._dead_letter(entry_id, fields, exc.reason)
            return
        done_key = f"{self._streams.prefix}:done:{action.id}"
        if await self._redis.exists(done_key):
            await self._redis.xack(self._stream, _GROUP, entry_id)
            return
        try:
            await self._adapter.perform(action)
        except ActionError as exc:
            attempts = await self._redis.hincrby(f"{self._streams.prefix}:attempts", action.id, 1)
            if exc.retry_after is not None and attempts < self._max_attempts:
                log.warning("action deferred", action_id=action.id, retry_after=exc.retry_after)
                await asyncio.sleep(min(exc.retry_after, 30.0))
                return
            await self._dead_letter(entry_id, fields, str(exc))
            return
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.set(done_key, entry_id, ex=self._done_ttl_s)
            pipe.xack(self._stream, _GROUP, entry_id)
            await pipe.execute()

    async def _dead_letter(self, entry_id: str, fields: dict[Any, Any], reason: str) -> None:
        payload: dict[Any, Any] = {b"entry_id": entry_id, b"reason": reason, **fields}
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.xadd(self._streams.dead, payload)
            pipe.xack(self._stream, _GROUP, entry_id)
            await pipe.execute()
        log.error("action dead-lettered", entry_id=entry_id, reason=reason)
