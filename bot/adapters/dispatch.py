"""Reads an adapter's action stream and hands each action to the adapter, exactly once when
the adapter succeeds: an action id is marked done after success, and a done id is skipped.
Actions another consumer read but never acknowledged (its process died; a restarted one has a
new consumer name) are reclaimed once pending longer than ``claim_idle_ms`` (XAUTOCLAIM).

The worker's commit opened the case an ``OpenCase`` action names (``case_id``); an adapter that
handles ``open_case`` gets it to post the review card. With a ``moderation`` service, an
automatic action that runtime shadow mode silences is skipped, and what became of each action
is noted on its case. An action the adapter fails on with anything but an outage (a defect,
an answer it did not expect) is dead-lettered and noted as failed; the rest go on.

An action is marked in flight before the adapter performs it. Found in flight again (its
dispatcher died, or lost Redis, between performing and marking it done), an action the
platform absorbs when repeated (delete, timeout, kick, ban, lift: ``REPEATABLE``) is performed
again, and a notice (warn, reply, notify, a review card) is not: it is recorded as ``unknown``
on its case, so no member hears the same thing twice.

The dispatcher also keeps its actions stream near ``maxlen`` entries (every ``trim_interval_s``),
never past an action its consumer group has not performed (:mod:`bot.trim`): while the adapter
is down, actions wait in the stream instead of being trimmed away.

Actions held until a time (:mod:`bot.due`: a temporary ban's unban, a Slack timeout's return)
are moved onto the stream by the dispatcher as they fall due (checked every
``due_interval_s``), then performed like the rest.

A dispatcher reads one partition's stream (:mod:`bot.keys`); :class:`PartitionDispatchers`
runs one a partition side by side, each blocking on its own stream."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from typing import Any, Literal

import redis.asyncio as aioredis
import structlog

from bot.action import REPEATABLE, Action, OpenCase
from bot.adapters.base import Adapter
from bot.connection import ensure_group, is_outage, run_until_stopped
from bot.due import DueActions
from bot.errors import ActionError, MalformedMessage
from bot.partitions import check_layout
from bot.review.interface import Moderation
from bot.streams import Streams, decode_action
from bot.trim import Trimmer

__all__ = ["ActionDispatcher", "PartitionDispatchers"]

log = structlog.get_logger(__name__)

_GROUP = "adapters"
_INTERRUPTED = (
    "a dispatcher stopped while doing this and could not record the result; not sent again "
    "so the member gets no duplicate (check that it arrived)"
)


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
        claim_idle_ms: int = 30_000,
        max_attempts: int = 5,
        done_ttl_s: int = 30 * 86400,
        moderation: Moderation | None = None,
        maxlen: int = 100_000,
        trim_interval_s: float = 5.0,
        due_interval_s: float = 1.0,
    ) -> None:
        self._redis = redis
        self._streams = streams
        self._adapter = adapter
        self._consumer = consumer
        self._block_ms = block_ms
        self._claim_idle_ms = claim_idle_ms
        self._max_attempts = max_attempts
        self._done_ttl_s = done_ttl_s
        self._moderation = moderation
        self._stream = streams.actions(adapter.platform)
        self._due = DueActions(redis=redis, streams=streams)
        self._due_interval_s = due_interval_s
        self._due_next = 0.0
        self._trimmer = Trimmer(
            redis=redis, stream=self._stream, cap=maxlen, interval_s=trim_interval_s
        )

    async def ensure_group(self) -> None:
        """Check the partition count is the namespace's, then create the consumer group.

        Raises:
            ConfigError: the streams were written with another partition count.
        """
        await check_layout(self._redis, self._streams)
        await ensure_group(self._redis, self._stream, _GROUP)

    async def run(self, stop: asyncio.Event) -> None:
        """Perform actions until ``stop`` is set, riding out Redis outages."""
        await run_until_stopped(stop, setup=self.ensure_group, step=self.step)

    async def step(self) -> int:
        """Retry this consumer's own pending actions first, then those another consumer left
        idle, then read new ones; release held actions and trim the stream when due."""
        if time.monotonic() >= self._due_next:
            self._due_next = time.monotonic() + self._due_interval_s
            await self._due.release(self._adapter.platform, now=datetime.now(UTC))
        pending: Any = await self._redis.xreadgroup(
            _GROUP, self._consumer, {self._stream: "0"}, count=16
        )
        entries = [(_text(i), f) for _, got in pending or [] for i, f in got if f]
        if not entries:
            claimed: Any = await self._redis.xautoclaim(
                self._stream,
                _GROUP,
                self._consumer,
                min_idle_time=self._claim_idle_ms,
                start_id="0-0",
                count=16,
            )
            entries = [(_text(i), f) for i, f in claimed[1] if f]
            if entries:
                log.info("reclaimed idle actions", count=len(entries))
        if not entries:
            reply: Any = await self._redis.xreadgroup(
                _GROUP, self._consumer, {self._stream: ">"}, count=16, block=self._block_ms
            )
            entries = [(_text(i), f) for _, got in reply or [] for i, f in got]
        for entry_id, fields in entries:
            await self._handle(entry_id, fields)
        await self._trimmer.tick()
        return len(entries)

    async def _handle(self, entry_id: str, fields: dict[Any, Any]) -> None:
        try:
            action = decode_action(entry_id, fields)
        except MalformedMessage as exc:
            await self._dead_letter(entry_id, fields, exc.reason)
            return
        done_key = self._streams.done(action.id)
        if await self._redis.exists(done_key):
            await self._redis.xack(self._stream, _GROUP, entry_id)
            return
        if isinstance(action, OpenCase):
            if action.case_id is None:
                await self._dead_letter(entry_id, fields, "open_case without a case id")
                return
            if "open_case" not in self._adapter.handles:
                await self._done(action.id, entry_id)
                return
        moderation = self._moderation
        if moderation is not None and await moderation.shadowed(action):
            await moderation.record_outcome(action, "shadow", "shadow mode: not performed")
            await self._done(action.id, entry_id)
            return
        inflight = self._streams.inflight(action.id)
        began = await self._redis.set(inflight, self._consumer, nx=True, ex=self._done_ttl_s)
        if not began and action.type not in REPEATABLE:
            # A dispatcher began this one and stopped (killed, or cut off from Redis) before
            # it could mark it done: it was most likely sent. A second notice is worse than
            # none, so it is not sent again, and the case says so.
            log.warning("action interrupted earlier, not repeated", action_id=action.id)
            await self._done(action.id, entry_id)
            await self._outcome(action, "unknown", _INTERRUPTED)
            return
        try:
            await self._adapter.perform(action)
        except ActionError as exc:
            await self._redis.delete(inflight)  # the platform refused it: it was not done
            attempts = await self._redis.hincrby(self._streams.attempts, action.id, 1)
            if exc.retry_after is not None and attempts < self._max_attempts:
                log.warning("action deferred", action_id=action.id, retry_after=exc.retry_after)
                await asyncio.sleep(min(exc.retry_after, 30.0))
                return
            await self._dead_letter(entry_id, fields, str(exc))
            await self._outcome(action, "failed", exc.reason)
            return
        except Exception as exc:
            if is_outage(exc):
                raise  # the action stays pending and is tried again after the outage
            # A bug behind one action (an unexpected reply, a type it does not handle) must
            # not end the dispatcher and leave every later action waiting behind it.
            await self._redis.delete(inflight)
            reason = f"adapter error: {type(exc).__name__}: {exc}"
            log.exception("adapter failed on an action", action_id=action.id)
            await self._dead_letter(entry_id, fields, reason)
            await self._outcome(action, "failed", reason)
            return
        await self._done(action.id, entry_id)
        await self._outcome(action, "performed")

    async def _done(self, action_id: str, entry_id: str) -> None:
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.set(self._streams.done(action_id), entry_id, ex=self._done_ttl_s)
            pipe.xack(self._stream, _GROUP, entry_id)
            pipe.delete(self._streams.inflight(action_id))
            await pipe.execute()

    async def _outcome(
        self, action: Action, state: Literal["performed", "failed", "unknown"], detail: str = ""
    ) -> None:
        if self._moderation is not None and not isinstance(action, OpenCase):
            await self._moderation.record_outcome(action, state, detail)

    async def _dead_letter(self, entry_id: str, fields: dict[Any, Any], reason: str) -> None:
        payload: dict[Any, Any] = {b"entry_id": entry_id, b"reason": reason, **fields}
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.xadd(self._streams.dead, payload)
            pipe.xack(self._stream, _GROUP, entry_id)
            await pipe.execute()
        log.error("action dead-lettered", entry_id=entry_id, reason=reason)


class PartitionDispatchers:
    """One :class:`ActionDispatcher` for each partition of ``streams``, run side by side;
    ``options`` are theirs."""

    def __init__(self, *, streams: Streams, **options: Any) -> None:
        self.each = [
            ActionDispatcher(streams=part, **options) for part in streams.every_partition()
        ]

    async def ensure_group(self) -> None:
        for dispatcher in self.each:
            await dispatcher.ensure_group()

    async def step(self) -> int:
        """One step of each; how many actions they handled."""
        return sum([await dispatcher.step() for dispatcher in self.each])

    async def run(self, stop: asyncio.Event) -> None:
        """Perform actions of every partition until ``stop`` is set."""
        await asyncio.gather(*(dispatcher.run(stop) for dispatcher in self.each))
