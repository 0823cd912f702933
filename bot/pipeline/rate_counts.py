"""The flood and duplicate counters behind the rules stage, counted in one script per batch.

Each counter is a sorted set of message keys scored by the messages' own times: add the
message, drop what fell out of the window, count what is left, refresh the expiry. Four
commands a counter and two counters a message made a batch of 32 cost 256 commands to pack and
parse; one Lua script per hash tag does the same steps in the same order, in one command, so a
counter a batch touches twice sees its first message when counting the second. Keys are grouped
by their hash tag, so on Redis Cluster each script stays in one slot.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import redis.asyncio as aioredis

from bot.connection import register_script

__all__ = ["RateCheck", "RateCounts"]

# KEYS: the counters, in order. ARGV: four per key: member, score, cutoff (scores at or below
# it leave the window), expiry in seconds. Returns each counter's size within the window.
_COUNT = """
local out = {}
for i, key in ipairs(KEYS) do
  local a = (i - 1) * 4
  redis.call('ZADD', key, ARGV[a + 2], ARGV[a + 1])
  redis.call('ZREMRANGEBYSCORE', key, '-inf', ARGV[a + 3])
  out[i] = redis.call('ZCOUNT', key, ARGV[a + 3], ARGV[a + 2])
  redis.call('EXPIRE', key, ARGV[a + 4])
end
return out
"""


@dataclass(frozen=True, slots=True)
class RateCheck:
    """One message counted in one counter over ``window`` seconds ending at ``at`` (a plain
    dataclass: a batch makes dozens, and nothing here needs validating)."""

    key: str
    member: str
    at: float
    window: float
    ttl_s: int


def _slot_tag(key: str) -> str:
    """The part of a key Redis Cluster hashes (the whole key when it has no ``{tag}``)."""
    start = key.find("{")
    end = key.find("}", start + 1) if start != -1 else -1
    return key[start + 1 : end] if end > start + 1 else key


class RateCounts:
    """Counts checks in Redis, one script call per hash tag (usually one per batch)."""

    def __init__(self, *, redis: aioredis.Redis) -> None:
        self._script = register_script(redis, _COUNT)

    async def count(self, checks: Sequence[RateCheck]) -> list[int]:
        """Each check's count after its message was added, in the order given.

        Raises:
            RedisError: Redis cannot answer (the batch stays pending).
        """
        groups: dict[str, list[int]] = {}
        for index, check in enumerate(checks):
            groups.setdefault(_slot_tag(check.key), []).append(index)
        replies = await asyncio.gather(
            *(self._call([checks[i] for i in indexes]) for indexes in groups.values())
        )
        counts = [0] * len(checks)
        for indexes, reply in zip(groups.values(), replies, strict=True):
            for index, value in zip(indexes, reply, strict=True):
                counts[index] = int(value)
        return counts

    async def _call(self, checks: Sequence[RateCheck]) -> list[Any]:
        args: list[Any] = []
        for check in checks:
            args += [check.member, repr(check.at), repr(check.at - check.window), check.ttl_s]
        return list(await self._script(keys=[c.key for c in checks], args=args))
