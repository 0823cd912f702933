"""Where cases live in Redis, and the one script that changes them.

Key names: :mod:`bot.keys` (the case documents are global, numbered by one counter; their
indexes, the queue, strikes, labels and stats belong to the case's tenant).

Every change goes through ``_APPLY``: it checks the case's version (optimistic locking, so two
moderators deciding at once cannot both win), writes the new state, moves the case between the
status and queue indexes, appends history, emits the actions to the platform's actions stream,
adds the labelled example and counters, and adds or removes strike points and picks the ladder
step they cross, all in one atomic step.

The actions stream is appended to without a cap: its dispatcher trims it, never past an action
not yet performed (:mod:`bot.trim`). The labels stream has no consumer group and keeps its
``MAXLEN ~`` cap.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

import redis.asyncio as aioredis
from pydantic import BaseModel, ConfigDict, Field

from bot.action import Action
from bot.case import Case, CaseAction, CaseEvent
from bot.connection import register_script
from bot.errors import CaseNotFound
from bot.keys import CaseKeys, Streams
from bot.stats import BUCKET_TTL_S, day_of
from bot.tenant import Tenant

__all__ = ["Applied", "CaseStore", "Change", "StrikeChange", "StrikeStepPlan"]

# ``apply_change(K, a)``: K the keys ``CaseStore.change_keys`` names, a the payload
# ``CaseStore.change_payload`` builds. The worker's commit calls it too, to open a case in the
# same step as the verdict.
APPLY_FUNCTION = """
local function apply_change(K, a)
local KEYS = K
local id = a.id
if a.create then
  local existing = redis.call('GET', KEYS[12])
  if existing then return {0, existing, '-1', '-1'} end
  if redis.call('EXISTS', KEYS[1]) == 1 then return {0, id, '-1', '-1'} end
  redis.call('SET', KEYS[12], id)
  redis.call('SET', KEYS[13], id, 'NX')
  redis.call('ZADD', KEYS[14], a.score, id)
  redis.call('ZADD', KEYS[15], a.score, id)
  redis.call('ZADD', KEYS[16], a.score, id)
  redis.call('SADD', KEYS[17], a.tenant)
else
  local current = redis.call('HGET', KEYS[1], 'version')
  if not current then return {-2, id, '-1', '-1'} end
  if current ~= a.expect then return {-1, current, '-1', '-1'} end
end
redis.call('HSET', KEYS[1], 'doc', a.doc, 'version', a.version)
if a.status_from ~= a.status_to then
  if a.status_from ~= '' then redis.call('ZREM', KEYS[5], id) end
  redis.call('ZADD', KEYS[6], a.score, id)
end
if a.queue == 'add' then
  redis.call('ZADD', KEYS[4], a.queue_score, id)
elseif a.queue == 'rem' then
  redis.call('ZREM', KEYS[4], id)
end
local function emit(events, records, actions)
  for _, e in ipairs(events) do redis.call('RPUSH', KEYS[2], e) end
  for _, r in ipairs(records) do redis.call('RPUSH', KEYS[3], r) end
  for _, x in ipairs(actions) do
    redis.call('XADD', KEYS[7], '*', 'action', x)
  end
end
emit(a.events, a.records, a.emit)
for _, l in ipairs(a.labels) do
  redis.call('XADD', KEYS[8], 'MAXLEN', '~', a.maxlen, '*', 'label', l)
end
for k, v in pairs(a.stats) do redis.call('HINCRBYFLOAT', KEYS[9], k, v) end
redis.call('EXPIRE', KEYS[9], a.stats_ttl)
local before, after = -1, -1
local s = a.strike
if type(s) == 'table' then
  if s.op == 'add' then
    before = 0
    for _, m in ipairs(redis.call('ZRANGEBYSCORE', KEYS[10], s.cutoff, '+inf')) do
      if m ~= id then before = before + tonumber(redis.call('HGET', KEYS[11], m) or '0') end
    end
    redis.call('ZADD', KEYS[10], s.now, id)
    redis.call('HSET', KEYS[11], id, s.points)
    after = before + tonumber(s.points)
    local chosen = nil
    for _, step in ipairs(s.steps) do
      local t = tonumber(step.threshold)
      if before < t and t <= after then chosen = step end
    end
    if chosen then
      emit(chosen.events, chosen.records, chosen.emit)
      for k, v in pairs(chosen.stats) do redis.call('HINCRBYFLOAT', KEYS[9], k, v) end
    end
  elseif s.op == 'remove' then
    redis.call('ZREM', KEYS[10], id)
    redis.call('HDEL', KEYS[11], id)
  end
end
return {1, id, tostring(before), tostring(after)}
end
"""

_APPLY = APPLY_FUNCTION + "return apply_change(KEYS, cjson.decode(ARGV[1]))\n"


def _now() -> datetime:
    return datetime.now(UTC)


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class StrikeStepPlan(BaseModel):
    """What to do if a strike crosses ``threshold`` points (built before the totals are known)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    threshold: int
    emit: tuple[str, ...] = ()
    records: tuple[CaseAction, ...] = ()
    events: tuple[CaseEvent, ...] = ()
    stats: dict[str, float] = {}


class StrikeChange(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    op: str = Field(pattern="^(add|remove)$")
    points: int = 0
    now: float = 0.0
    cutoff: float = 0.0
    steps: tuple[StrikeStepPlan, ...] = ()


class Change(BaseModel):
    """One atomic change to a case, as ``_APPLY`` performs it."""

    model_config = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=True)

    case: Case
    create_token: str | None = Field(default=None, description="dedupe token when creating")
    expect_version: int | None = None
    status_from: str = ""
    queue: str = Field(default="", pattern="^(add|rem|)$")
    queue_score: float = 0.0
    events: tuple[CaseEvent, ...] = ()
    records: tuple[CaseAction, ...] = ()
    emit: tuple[str, ...] = Field(default=(), description="Action JSON for the actions stream")
    labels: tuple[str, ...] = ()
    stats: dict[str, float] = {}
    strike: StrikeChange | None = None

    @classmethod
    def of(
        cls, before: Case, after: Case, *, actions: Sequence[Action] = (), **rest: Any
    ) -> Change:
        """A change to an existing case: the version and status it expects come from
        ``before``, and ``actions`` are emitted to the platform's action stream."""
        return cls(
            case=after,
            expect_version=before.version,
            status_from=before.status.value,
            emit=tuple(a.model_dump_json() for a in actions),
            **rest,
        )


class Applied(BaseModel):
    """What ``_APPLY`` answered."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    outcome: str = Field(description="'applied', 'exists' (created before), 'stale', 'missing'")
    case_id: str
    strikes_before: int = -1
    strikes_after: int = -1


class CaseStore:
    """Reads and writes cases. Raises redis errors when Redis is unreachable."""

    def __init__(
        self,
        *,
        redis: aioredis.Redis,
        streams: Streams,
        maxlen: int = 100_000,
        clock: Callable[[], datetime] = _now,
    ) -> None:
        """``clock`` picks the day bucket a change's stats are counted in."""
        self._redis = redis
        self._clock = clock
        self.keys = CaseKeys(streams)
        self._maxlen = maxlen
        self._apply = register_script(redis, _APPLY)

    async def tenants(self) -> list[Tenant]:
        """Every tenant that has a case, sorted (every partition's)."""
        raw: set[object] = set()
        for key in self.keys.every_tenants():
            raw |= set(await self._redis.smembers(key))
        return sorted((Tenant.parse(_text(t)) for t in raw), key=str)

    async def next_id(self, tenant: Tenant) -> str:
        """A new case id in ``tenant``'s partition."""
        return self.keys.number(int(await self._redis.incr(self.keys.seq(tenant))), tenant)

    async def existing(self, token: str, tenant: Tenant) -> str | None:
        found = await self._redis.get(self.keys.dedupe(token, tenant))
        return None if found is None else _text(found)

    async def case_for_message(self, message_key: str) -> str | None:
        found = await self._redis.get(self.keys.by_message(message_key))
        return None if found is None else _text(found)

    async def load(self, case_id: str, tenant: Tenant) -> Case:
        """A case of ``tenant``. Raises CaseNotFound (also for another tenant's case that
        shares the partition: the caller checks the tenant)."""
        cases = await self.load_many([case_id], tenant)
        if not cases:
            raise CaseNotFound(case_id)
        return cases[0]

    async def load_many(self, case_ids: Sequence[str], tenant: Tenant) -> list[Case]:
        """The cases of ``tenant`` that exist, in the order asked."""
        if not case_ids:
            return []
        async with self._redis.pipeline(transaction=False) as pipe:
            for case_id in case_ids:
                pipe.hget(self.keys.case(case_id, tenant), "doc")
                pipe.lrange(self.keys.events(case_id, tenant), 0, -1)
                pipe.lrange(self.keys.actions(case_id, tenant), 0, -1)
            raw = await pipe.execute()
        cases = []
        for i in range(len(case_ids)):
            doc, events, actions = raw[3 * i : 3 * i + 3]
            if doc is None:
                continue
            base = Case.model_validate_json(doc)
            folded: dict[str, CaseAction] = {}
            for item in actions:
                record = CaseAction.model_validate_json(item)
                prior = folded.get(record.id)
                if prior is not None:  # a later entry says what became of the action
                    record = prior.model_copy(
                        update={"state": record.state, "detail": record.detail or prior.detail}
                    )
                folded[record.id] = record
            cases.append(
                base.model_copy(
                    update={
                        "events": tuple(CaseEvent.model_validate_json(e) for e in events),
                        "actions": tuple(folded.values()),
                    }
                )
            )
        return cases

    async def ids(self, key: str, *, limit: int, newest_first: bool = False) -> list[str]:
        if limit <= 0:
            return []
        if newest_first:
            raw = await self._redis.zrevrange(key, 0, limit - 1)
        else:
            raw = await self._redis.zrange(key, 0, limit - 1)
        return [_text(x) for x in raw]

    async def apply(self, change: Change) -> Applied:
        raw: Any = await self._apply(
            keys=self.change_keys(change), args=[self.change_payload(change)]
        )
        code = int(raw[0])
        outcome = {1: "applied", 0: "exists", -1: "stale", -2: "missing"}[code]
        return Applied(
            outcome=outcome,
            case_id=_text(raw[1]),
            strikes_before=int(float(_text(raw[2]))),
            strikes_after=int(float(_text(raw[3]))),
        )

    def change_keys(self, change: Change) -> list[str]:
        """The keys ``apply_change`` touches for ``change``, in its order."""
        case = change.case
        message = case.message
        tenant = Tenant.of(message)
        own = self.keys.tenant(tenant)
        return [
            self.keys.case(case.id, tenant),
            self.keys.events(case.id, tenant),
            self.keys.actions(case.id, tenant),
            own.queue,
            own.status(change.status_from or "none"),
            own.status(case.status.value),
            self.keys.streams.of(tenant).actions(message.platform),
            own.labels,
            own.stats(day_of(self._clock())),
            own.strikes(message.author.id),
            own.strike_points(message.author.id),
            self.keys.dedupe(change.create_token or "-", tenant),
            self.keys.by_message(message.key),
            self.keys.all(tenant),
            own.user(message.author.id),
            own.channel(message.channel),
            self.keys.tenants(tenant),
        ]

    def change_payload(self, change: Change) -> str:
        """``change`` as the JSON ``apply_change`` reads."""
        case = change.case
        strike: dict[str, Any] | None = None
        if change.strike is not None:
            s = change.strike
            strike = {
                "op": s.op,
                "points": str(s.points),
                "now": repr(s.now),
                "cutoff": repr(s.cutoff),
                "steps": [
                    {
                        "threshold": str(step.threshold),
                        "emit": list(step.emit),
                        "records": [r.model_dump_json() for r in step.records],
                        "events": [e.model_dump_json() for e in step.events],
                        "stats": {k: repr(float(v)) for k, v in step.stats.items()},
                    }
                    for step in s.steps
                ],
            }
        payload = {
            "id": case.id,
            "create": change.create_token is not None,
            "expect": str(change.expect_version if change.expect_version is not None else ""),
            "version": str(case.version),
            "doc": case.model_dump_json(exclude={"events", "actions"}),
            "score": repr(case.opened_at.timestamp()),
            "status_from": change.status_from,
            "status_to": case.status.value,
            "queue": change.queue,
            "queue_score": repr(change.queue_score),
            "events": [e.model_dump_json() for e in change.events],
            "records": [r.model_dump_json() for r in change.records],
            "emit": list(change.emit),
            "labels": list(change.labels),
            "stats": {k: repr(float(v)) for k, v in change.stats.items()},
            "strike": strike if strike is not None else False,
            "maxlen": str(self._maxlen),
            "stats_ttl": str(BUCKET_TTL_S),
            "tenant": str(Tenant.of(case.message)),
        }
        # cjson turns an empty Lua table into {}, and an empty JSON array into an empty table:
        # both iterate as nothing, so empty lists are safe.
        return json.dumps(payload, ensure_ascii=False)

    async def append(
        self,
        case_id: str,
        tenant: Tenant,
        *,
        records: Sequence[CaseAction] = (),
        events: Sequence[CaseEvent] = (),
    ) -> None:
        """Append history without changing the case's state (what became of an action)."""
        async with self._redis.pipeline(transaction=True) as pipe:
            for record in records:
                pipe.rpush(self.keys.actions(case_id, tenant), record.model_dump_json())
            for event in events:
                pipe.rpush(self.keys.events(case_id, tenant), event.model_dump_json())
            await pipe.execute()
