"""Raid mode: the rules that start it and its state in Redis, per tenant.

Two rules start raid mode (``raid:`` in the policy, :class:`~bot.policy.RaidProtection`):
``joins`` members joining within ``within`` seconds, or ``young_joins`` accounts younger than
``new_account_days`` joining within it. A *triggering* join is one that finds either count at
its threshold; raid mode ends by itself ``quiet_after`` seconds after the last one.

Counting is one Lua script per join, so two adapter processes receiving joins of one tenant
count each join once and only one of them starts raid mode (and publishes its actions). Keys
(:mod:`bot.keys`): the tenant's ``raid:joins`` and ``raid:young`` (sorted sets of members by
join time), ``raid:state`` (the running raid, JSON), ``raid:newcomers`` (members who joined
during it: their first message is held) and ``raid:first:<uid>`` (that first message's key);
``{ns}:raids`` lists tenants in raid mode by when they end if quiet.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import redis.asyncio as aioredis
from pydantic import BaseModel, ConfigDict, Field

from bot.connection import register_script
from bot.policy import RaidProtection
from bot.streams import Streams
from bot.tenant import Tenant

__all__ = ["FIRST_MESSAGE_TTL_S", "Join", "JoinCount", "RaidBook", "RaidState", "is_young"]

#: How long a newcomer's first message is remembered (so a redelivery is held again).
FIRST_MESSAGE_TTL_S = 86400

# KEYS: joins, young, state, raids, newcomers.
# ARGV: member, now, within, young (0/1), joins threshold, young threshold, quiet_after,
#       state JSON for a raid this join starts, tenant.
_JOIN = """
local now = tonumber(ARGV[2])
local floor = now - tonumber(ARGV[3])
local ttl = math.ceil(tonumber(ARGV[3])) + 60
redis.call('ZADD', KEYS[1], now, ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', floor)
redis.call('EXPIRE', KEYS[1], ttl)
local joins = redis.call('ZCARD', KEYS[1])
local young = 0
if ARGV[4] == '1' then
  redis.call('ZADD', KEYS[2], now, ARGV[1])
end
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', floor)
young = redis.call('ZCARD', KEYS[2])
if young > 0 then redis.call('EXPIRE', KEYS[2], ttl) end
local triggered = joins >= tonumber(ARGV[5]) or young >= tonumber(ARGV[6])
local active = redis.call('EXISTS', KEYS[3]) == 1
local started = 0
if triggered and not active then
  redis.call('SET', KEYS[3], ARGV[8])
  local window = redis.call('ZRANGE', KEYS[1], 0, -1, 'WITHSCORES')
  for i = 1, #window, 2 do redis.call('ZADD', KEYS[5], window[i + 1], window[i]) end
  started = 1
  active = true
end
if active then
  redis.call('ZADD', KEYS[5], now, ARGV[1])
  if triggered then redis.call('ZADD', KEYS[4], now + tonumber(ARGV[7]), ARGV[9]) end
end
return {started, active and 1 or 0, joins, young}
"""

# KEYS: state, raids, newcomers, joins, young. ARGV: state JSON, ends at, tenant.
_START = """
if redis.call('SET', KEYS[1], ARGV[1], 'NX') then
  redis.call('ZADD', KEYS[2], tonumber(ARGV[2]), ARGV[3])
  return 1
end
return 0
"""

# KEYS: state, raids, newcomers, joins, young. ARGV: tenant, now, force (0/1).
_END = """
local ends = redis.call('ZSCORE', KEYS[2], ARGV[1])
if ARGV[3] ~= '1' and (not ends or tonumber(ends) > tonumber(ARGV[2])) then return false end
local doc = redis.call('GET', KEYS[1])
redis.call('DEL', KEYS[1], KEYS[3], KEYS[4], KEYS[5])
redis.call('ZREM', KEYS[2], ARGV[1])
return doc
"""

# KEYS: newcomers, first. ARGV: member, message key, ttl.
_FIRST = """
if not redis.call('ZSCORE', KEYS[1], ARGV[1]) then return 0 end
redis.call('SET', KEYS[2], ARGV[2], 'NX', 'EX', tonumber(ARGV[3]))
return redis.call('GET', KEYS[2]) == ARGV[2] and 1 or 0
"""


class Join(BaseModel):
    """A member joined a tenant (a Discord GUILD_MEMBER_ADD, converted by the adapter)."""

    model_config = ConfigDict(frozen=True)

    tenant: Tenant
    member: str = Field(min_length=1)
    account_created: datetime
    at: datetime


class RaidState(BaseModel):
    """A raid mode in force: why and by whom it started, and what it did (to undo)."""

    model_config = ConfigDict(frozen=True)

    tenant: Tenant
    raid_id: str
    started_at: datetime
    started_by: str = Field(description="'modtriage', or the moderator who turned it on")
    reason: str
    actions: tuple[str, ...] = ()
    channels: tuple[str, ...] = Field(default=(), description="channel ids slowed or locked")
    slowmode_before: dict[str, int] = Field(default={}, description="to put back at the end")
    ends_at: datetime | None = Field(default=None, description="if no triggering join comes")


class JoinCount(BaseModel):
    """What one join found: the counts in the window, and whether raid mode is on."""

    model_config = ConfigDict(frozen=True)

    joins: int
    young: int
    active: bool
    started: RaidState | None = None


def is_young(join: Join, days: int) -> bool:
    """An account younger than ``days`` (0: the new-account rule is off)."""
    return days > 0 and join.at - join.account_created < timedelta(days=days)


def _reason(count: JoinCount, rules: RaidProtection) -> str:
    if count.joins >= rules.joins:
        return f"{count.joins} members joined within {rules.within}s"
    return (
        f"{count.young} accounts younger than {rules.new_account_days} days joined within "
        f"{rules.within}s"
    )


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class RaidBook:
    """Raid mode's counters and state, for every tenant, in Redis."""

    def __init__(self, *, redis: aioredis.Redis, streams: Streams) -> None:
        self._redis = redis
        self._streams = streams
        self._join = register_script(redis, _JOIN)
        self._start = register_script(redis, _START)
        self._end = register_script(redis, _END)
        self._first = register_script(redis, _FIRST)

    def _keys(self, tenant: Tenant) -> list[str]:
        keys = self._streams.tenant(tenant)
        return [
            keys.raid("state"),
            self._streams.of(tenant).raids,
            keys.raid("newcomers"),
            keys.raid("joins"),
            keys.raid("young"),
        ]

    async def join(
        self,
        join: Join,
        rules: RaidProtection,
        *,
        channels: tuple[str, ...] = (),
        slowmode_before: dict[str, int] | None = None,
    ) -> JoinCount:
        """Count a join; start raid mode when it triggers and none is on. ``started`` is set
        for the one caller that started it (it performs the raid actions). ``channels`` are
        the ids raid mode would slow or lock. Raises RedisError."""
        keys = self._streams.tenant(join.tenant)
        young = is_young(join, rules.new_account_days)
        planned = RaidState(
            tenant=join.tenant,
            raid_id=str(int(join.at.timestamp() * 1000)),
            started_at=join.at,
            started_by="modtriage",
            reason="",
            actions=rules.actions,
            channels=channels,
            slowmode_before=slowmode_before or {},
        )
        # The reason names the counts this join finds; they are only known after the script,
        # so the stored state says which rule may fire and is rewritten below when started.
        reply: Any = await self._join(
            keys=[
                keys.raid("joins"),
                keys.raid("young"),
                keys.raid("state"),
                self._streams.of(join.tenant).raids,
                keys.raid("newcomers"),
            ],
            args=[
                join.member,
                repr(join.at.timestamp()),
                rules.within,
                "1" if young else "0",
                rules.joins,
                rules.young_joins,
                rules.quiet_after,
                planned.model_dump_json(),
                str(join.tenant),
            ],
        )
        started, active, joins, young_count = (int(v) for v in reply)
        count = JoinCount(joins=joins, young=young_count, active=bool(active))
        if not started:
            return count
        state = planned.model_copy(
            update={
                "reason": _reason(count, rules),
                "ends_at": join.at + timedelta(seconds=rules.quiet_after),
            }
        )
        await self._redis.set(keys.raid("state"), state.model_dump_json(), xx=True)
        return count.model_copy(update={"started": state})

    async def start(self, state: RaidState, *, quiet_after: int) -> bool:
        """Turn raid mode on by hand; False when it is on already. Raises RedisError."""
        ends = state.started_at + timedelta(seconds=quiet_after)
        state = state.model_copy(update={"ends_at": ends})
        started: Any = await self._start(
            keys=self._keys(state.tenant),
            args=[state.model_dump_json(), repr(ends.timestamp()), str(state.tenant)],
        )
        return bool(started)

    async def end(self, tenant: Tenant, *, now: datetime, force: bool = False) -> RaidState | None:
        """End the tenant's raid mode (when quiet since its end time, or ``force``); the
        state it had, for the one caller that ended it, else None. Raises RedisError."""
        doc: Any = await self._end(
            keys=self._keys(tenant), args=[str(tenant), repr(now.timestamp()), int(force)]
        )
        return None if doc is None else RaidState.model_validate_json(_text(doc))

    async def end_quiet(self, *, now: datetime, platform: str) -> list[RaidState]:
        """End every raid mode of ``platform`` that has been quiet long enough."""
        due: list[Any] = []
        for part in self._streams.every_partition():
            due += await self._redis.zrangebyscore(part.raids, "-inf", now.timestamp())
        ended = []
        for raw in due:
            tenant = Tenant.parse(_text(raw))
            if tenant.platform != platform:
                continue
            state = await self.end(tenant, now=now)
            if state is not None:
                ended.append(state)
        return ended

    async def state(self, tenant: Tenant) -> RaidState | None:
        """The tenant's raid mode, with when it ends if quiet; None when off."""
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.get(self._streams.tenant(tenant).raid("state"))
            pipe.zscore(self._streams.of(tenant).raids, str(tenant))
            doc, ends = await pipe.execute()
        if doc is None:
            return None
        state = RaidState.model_validate_json(_text(doc))
        if ends is not None:
            state = state.model_copy(update={"ends_at": datetime.fromtimestamp(ends, UTC)})
        return state

    async def first_message(self, tenant: Tenant, member: str, message_key: str) -> bool:
        """Whether this is the first message of a member who joined during raid mode (a
        redelivery of that message answers True again). Raises RedisError."""
        keys = self._streams.tenant(tenant)
        held: Any = await self._first(
            keys=[keys.raid("newcomers"), keys.raid(f"first:{member}")],
            args=[member, message_key, FIRST_MESSAGE_TTL_S],
        )
        return bool(held)
