"""Actions held until a time: a temporary ban's unban, the return of a member a Slack
"timeout" removed from a channel.

An action waits in ``{ns}:due:<platform>`` (a sorted set of ids scored by when it is due) with
its JSON in ``{ns}:due-action:<platform>``. Every action dispatcher of that platform calls
:meth:`DueActions.release` as it runs: one Lua script moves what is due onto the platform's
actions stream and forgets it, so each held action is released once however many dispatchers
run, and a restart loses nothing (it is all in Redis). The dispatcher then performs it once by
its id, like any other action.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import redis.asyncio as aioredis

from bot.action import Action
from bot.connection import register_script
from bot.keys import Streams
from bot.tenant import Tenant

__all__ = ["DueActions"]

# KEYS: due zset, due-action hash, actions stream. ARGV: now, at most how many.
_RELEASE = """
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
for _, id in ipairs(ids) do
  local doc = redis.call('HGET', KEYS[2], id)
  if doc then redis.call('XADD', KEYS[3], '*', 'action', doc) end
  redis.call('ZREM', KEYS[1], id)
  redis.call('HDEL', KEYS[2], id)
end
return #ids
"""


class DueActions:
    """Holds actions until their time and releases them onto the actions stream."""

    def __init__(self, *, redis: aioredis.Redis, streams: Streams) -> None:
        self._redis = redis
        self._streams = streams
        self._release = register_script(redis, _RELEASE)

    async def hold(self, action: Action, *, until: datetime) -> bool:
        """Release ``action`` at ``until``. Holding the same id again keeps the first time
        (a retried command or a repeated action does not push the time back). Returns whether
        it was new. Raises RedisError."""
        platform = action.platform
        names = self._streams.of(Tenant(platform=platform, workspace=action.workspace))
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.zadd(names.due(platform), {action.id: until.timestamp()}, nx=True)
            pipe.hsetnx(names.due_actions(platform), action.id, action.model_dump_json())
            added, _ = await pipe.execute()
        return bool(added)

    async def cancel(self, tenant: Tenant, action_id: str) -> bool:
        """Forget a held action (it was done some other way). Returns whether it was held."""
        names, platform = self._streams.of(tenant), tenant.platform
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.zrem(names.due(platform), action_id)
            pipe.hdel(names.due_actions(platform), action_id)
            removed, _ = await pipe.execute()
        return bool(removed)

    async def when(self, tenant: Tenant, action_id: str) -> float | None:
        """The time (epoch seconds) a held action is due, None when it is not held."""
        score = await self._redis.zscore(self._streams.of(tenant).due(tenant.platform), action_id)
        return None if score is None else float(score)

    async def release(self, platform: str, *, now: datetime, limit: int = 64) -> int:
        """Move the actions due by ``now`` onto the platform's actions stream; how many. Only
        the partition these names are bound to (a dispatcher's own)."""
        keys = [
            self._streams.due(platform),
            self._streams.due_actions(platform),
            self._streams.actions(platform),
        ]
        released: Any = await self._release(keys=keys, args=[repr(now.timestamp()), limit])
        return int(released)
