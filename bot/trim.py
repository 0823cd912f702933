"""Trimming a stream without dropping what a consumer group still needs.

``XADD … MAXLEN ~ n`` keeps the newest n entries whatever the readers did: with the workers
down and a cap of 100, 896 of 1,000 messages went before any worker saw them, neither moderated
nor dead-lettered. Here a stream that has consumer groups is trimmed only below the oldest entry
one of them still needs, its *floor*: the group's oldest pending entry (delivered, not yet
acknowledged) or, when that comes later or there is none, the first entry it has not been given
(after its ``last-delivered-id``). Of the entries below the floor only as many go as the stream
is over its cap, so the newest ``cap`` entries always stay.

A backlog therefore grows past the cap until the readers catch up; the lag gauges
(``modtriage_stream_undelivered``) and the alert in ``deploy/prometheus/`` say so. A stream with
no consumer group is not trimmed at all: no reader has said what it needs. A group nobody reads
any more (a removed deployment) holds the floor back: delete it (``XGROUP DESTROY``).

The ingest publisher and the action dispatcher trim through :class:`Trimmer` now and then, not on
every write. On Redis 7 the entries not yet delivered come from ``XINFO GROUPS`` (``lag``); Redis
6.2 has no such field, and they are counted in the server, up to ``count_limit``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import redis.asyncio as aioredis
import structlog
from pydantic import BaseModel, ConfigDict, Field
from redis.exceptions import RedisError, ResponseError

from bot.connection import register_script

__all__ = ["Backlog", "GroupBacklog", "Trimmer", "read_backlog", "trim_stream"]

log = structlog.get_logger(__name__)

#: Entries after an id, counted in the server (Redis 6.2 has no ``lag``), at most ARGV[2].
_COUNT_AFTER = """
return #redis.call('XRANGE', KEYS[1], '(' .. ARGV[1], '+', 'COUNT', tonumber(ARGV[2]))
"""

# Removes the oldest entries that are both below the floor (ARGV[2]: no group needs them) and
# beyond the cap (ARGV[1]: the newest that many stay), at most ARGV[3] of them; returns how many.
_TRIM = """
local excess = redis.call('XLEN', KEYS[1]) - tonumber(ARGV[1])
if excess <= 0 then return 0 end
local below = redis.call('XRANGE', KEYS[1], '-', '(' .. ARGV[2], 'COUNT',
  math.min(excess, tonumber(ARGV[3])))
if #below == 0 then return 0 end
local first_kept = redis.call('XRANGE', KEYS[1], '(' .. below[#below][1], '+', 'COUNT', 1)
if #first_kept == 0 then return 0 end
return redis.call('XTRIM', KEYS[1], 'MINID', first_kept[1][1])
"""

#: An id below every real entry: a floor there lets nothing go.
_START = (0, 1)


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _parse(entry_id: str) -> tuple[int, int]:
    ms, _, seq = entry_id.partition("-")
    return int(ms), int(seq or 0)


def _format(entry_id: tuple[int, int]) -> str:
    return f"{entry_id[0]}-{entry_id[1]}"


class GroupBacklog(BaseModel):
    """Where one consumer group stands on a stream."""

    model_config = ConfigDict(frozen=True)

    name: str
    pending: int = Field(ge=0, description="delivered to a consumer, not yet acknowledged")
    undelivered: int = Field(ge=0, description="after the group's last-delivered-id")
    counted_up_to: int | None = Field(
        default=None,
        description="set when ``undelivered`` was counted and stopped there: at least that many",
    )
    floor: str = Field(description="the oldest entry id the group still needs (may not exist)")


class Backlog(BaseModel):
    """A stream's length and where each of its consumer groups stands."""

    model_config = ConfigDict(frozen=True)

    stream: str
    length: int = Field(ge=0)
    groups: tuple[GroupBacklog, ...] = ()

    @property
    def floor(self) -> str | None:
        """The oldest entry id any group still needs; None without groups (trim nothing)."""
        if not self.groups:
            return None
        return _format(min(_parse(g.floor) for g in self.groups))

    def group(self, name: str) -> GroupBacklog:
        """The named group's figures; a group that does not exist yet has been given nothing,
        so it has the whole stream ahead of it."""
        for group in self.groups:
            if group.name == name:
                return group
        return GroupBacklog(name=name, pending=0, undelivered=self.length, floor=_format(_START))


async def read_backlog(redis: aioredis.Redis, stream: str, *, count_limit: int = 10_000) -> Backlog:
    """The stream's length and each group's pending and undelivered entries (two round trips;
    on Redis 6.2 the undelivered count costs up to ``count_limit`` entries read in the server,
    and 0 skips it: ``undelivered`` is then 0, ``counted_up_to`` 0). A stream that does not
    exist has length 0 and no groups. Raises redis errors."""
    try:
        infos: Any = await redis.xinfo_groups(stream)
    except ResponseError as exc:
        if "no such key" in str(exc).lower():
            return Backlog(stream=stream, length=0)
        raise
    count_after = register_script(redis, _COUNT_AFTER)
    async with redis.pipeline(transaction=False) as pipe:
        pipe.xlen(stream)
        for info in infos:
            pipe.xpending(stream, _text(info["name"]))
        replies = iter(await pipe.execute())
    counted: dict[str, int] = {}
    for info in infos:  # a script each, not pipelined: a cluster client refuses that
        if info.get("lag") is None and count_limit > 0:  # Redis 6.2, or no lag to tell
            last = _text(info["last-delivered-id"])
            counted[_text(info["name"])] = int(
                await count_after(keys=[stream], args=[last, count_limit])
            )
    length = int(next(replies))
    groups = []
    for info in infos:
        summary = next(replies)
        counted_up_to = None
        if info.get("lag") is None:
            undelivered = counted.get(_text(info["name"]), 0)
            counted_up_to = count_limit if undelivered >= count_limit else None
        else:
            undelivered = int(info["lag"])
        ms, seq = _parse(_text(info["last-delivered-id"]))
        floor = (ms, seq + 1)  # the first entry not given to the group
        if int(summary["pending"]) > 0 and summary["min"] is not None:
            floor = min(floor, _parse(_text(summary["min"])))
        groups.append(
            GroupBacklog(
                name=_text(info["name"]),
                pending=int(summary["pending"]),
                undelivered=undelivered,
                counted_up_to=counted_up_to,
                floor=_format(floor),
            )
        )
    return Backlog(stream=stream, length=length, groups=tuple(groups))


async def trim_stream(
    redis: aioredis.Redis,
    stream: str,
    *,
    cap: int,
    backlog: Backlog | None = None,
    limit: int = 10_000,
) -> int:
    """Remove the oldest entries no consumer group needs, as far as the stream is over ``cap``,
    at most ``limit`` in one call (a longer overshoot goes over several calls). Returns how many
    went. ``backlog``: when the caller just read it (the floor only moves forward, so an older
    reading is safe). Raises redis errors."""
    backlog = backlog or await read_backlog(redis, stream, count_limit=0)  # floors only
    floor = backlog.floor
    if floor is None or backlog.length <= cap:
        return 0
    trim = register_script(redis, _TRIM)
    removed: Any = await trim(keys=[stream], args=[cap, floor, limit])
    return int(removed)


class Trimmer:
    """Keeps one stream near ``cap`` (see the module), trimming after ``every`` writes or
    ``interval_s`` seconds, whichever comes first, when :meth:`tick` is called."""

    def __init__(
        self,
        *,
        redis: aioredis.Redis,
        stream: str,
        cap: int,
        every: int = 1_000,
        interval_s: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._redis = redis
        self.stream = stream
        self._cap = cap
        self._every = every
        self._interval_s = interval_s
        self._clock = clock
        self._written = 0
        self._last = clock()

    async def tick(self, written: int = 0) -> int:
        """Note ``written`` new entries and trim when due. Returns how many entries went.

        Trimming is housekeeping: a Redis error is logged and the next tick tries again, so a
        write that succeeded is never reported as failed because the trim after it did not."""
        self._written += written
        now = self._clock()
        if self._written < self._every and now - self._last < self._interval_s:
            return 0
        self._written, self._last = 0, now
        try:
            removed = await trim_stream(self._redis, self.stream, cap=self._cap)
        except RedisError as exc:
            log.warning("stream not trimmed", stream=self.stream, error=str(exc))
            return 0
        if removed:
            log.debug("stream trimmed", stream=self.stream, removed=removed)
        return removed
