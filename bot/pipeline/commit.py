"""The worker's commit: verdict, case and actions of one message in one atomic step.

The case is planned before the commit (:mod:`bot.review.opening`): the incident the author has
open in the channel is read, a new case is numbered, and every action is given its case id.
The script checks the incident is still what the plan assumed; when another message joined or
opened it in between, the message is planned again (a case number may then go unused).
A message decided before (a redelivery) changes nothing and is acknowledged.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

import redis.asyncio as aioredis
import structlog

from bot.action import Action, OpenCase, Reply
from bot.connection import is_cluster, register_script
from bot.escalation.record import EscalationStore
from bot.insights.drift import TTL_S as SCORES_TTL_S
from bot.insights.drift import score_counters
from bot.keys import CaseKeys, Streams
from bot.pipeline.assessment import Assessment
from bot.policy import Policy
from bot.review.opening import plan_opening, repeat_event, with_case
from bot.review.shadow import ShadowSwitch
from bot.review.store import APPLY_FUNCTION, CaseStore
from bot.stats import BUCKET_TTL_S, Counter, day_of
from bot.tenant import Tenant
from bot.verdict import Verdict

__all__ = ["Committer", "incident_window"]

log = structlog.get_logger(__name__)

_ATTEMPTS = 5

# KEYS: 1 decision hash, 2 verdicts stream, 3 ingest stream, 4 actions stream, 5 errors hash,
# 6 the tenant's stats bucket of the day, 7 the author's incident in the channel, 8 the
# tenant's score hash of the day (bot.insights.drift); then, for a new case, the keys
# apply_change names, or for a repeat, 9 the open case's events and 10 the action's dedupe key.
# ARGV: 1 group, 2 entry id, 3 verdict, 4 message, 5 verdicts' maxlen, 6 decision TTL,
# 7 the stats counters to add (JSON), 8 bucket TTL, 9 incident window in seconds (0: no
# case; -1: planned as decided before), 10 the message's time, 11 the incident case the plan
# assumed ('' none), 12 the case id, 13 the change (new case) or the repeat event, 14 the
# score counters (JSON), 15 their hash's TTL, 16.. the actions.
_COMMIT = """
if redis.call('HEXISTS', KEYS[1], 'verdict') == 1 then
  redis.call('XACK', KEYS[3], ARGV[1], ARGV[2])
  redis.call('HDEL', KEYS[5], ARGV[2])
  return {0, ''}
end
-- planned as decided before (a redelivery), yet not decided: plan it again
if ARGV[9] == '-1' then return {-1, ''} end
local case_id, joined = '', false
if ARGV[9] ~= '0' then
  local window, at = tonumber(ARGV[9]), tonumber(ARGV[10])
  local open = redis.call('HMGET', KEYS[7], 'case', 'at')
  local current = ''
  if open[1] and math.abs(at - tonumber(open[2])) <= window then current = open[1] end
  if current ~= ARGV[11] then return {-1, current} end
  case_id, joined = ARGV[12], current ~= ''
  redis.call('HSET', KEYS[7], 'case', case_id, 'at', math.max(at, tonumber(open[2] or at)))
  redis.call('EXPIRE', KEYS[7], window + 3600)
end
redis.call('HSET', KEYS[1], 'verdict', ARGV[3], 'message', ARGV[4])
redis.call('EXPIRE', KEYS[1], ARGV[6])
redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[5], '*', 'verdict', ARGV[3], 'message', ARGV[4])
for i = 16, #ARGV do
  local action = cjson.decode(ARGV[i])
  if joined and action.type == 'warn' then
    redis.call('HSET', KEYS[1], 'held:' .. action.id, case_id)
  else
    redis.call('XADD', KEYS[4], '*', 'action', ARGV[i])
  end
end
if joined then
  redis.call('HSET', KEYS[1], 'case', case_id)
  redis.call('RPUSH', KEYS[9], ARGV[13])
  redis.call('SET', KEYS[10], case_id, 'NX')
elseif case_id ~= '' then
  -- after the verdict's actions: a strike ladder step's sanction follows them on the stream
  redis.call('HSET', KEYS[1], 'case', case_id)
  local K = {}
  for i = 9, #KEYS do K[#K + 1] = KEYS[i] end
  apply_change(K, cjson.decode(ARGV[13]))
end
for name, n in pairs(cjson.decode(ARGV[7])) do redis.call('HINCRBYFLOAT', KEYS[6], name, n) end
redis.call('EXPIRE', KEYS[6], ARGV[8])
for name, n in pairs(cjson.decode(ARGV[14])) do redis.call('HINCRBY', KEYS[8], name, n) end
redis.call('EXPIRE', KEYS[8], ARGV[15])
redis.call('XACK', KEYS[3], ARGV[1], ARGV[2])
redis.call('HDEL', KEYS[5], ARGV[2])
return {1, case_id}
"""


def incident_window(verdict: Verdict, policy: Policy) -> int:
    """Seconds a repeat by the same author in the same channel joins the open case: the
    window of the rate rule that decided, else the duplicate rule's (a minute without one)."""
    rules = policy.rules
    rule = verdict.evidence[0].rule if verdict.evidence else ""
    chosen = rules.flood if rule == "flood" else rules.duplicates
    return max(1, int(chosen.window)) if chosen is not None else 60


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


@dataclass(frozen=True)
class _Seen:
    """What the plan of one message read."""

    decided: bool
    incident: str  # the case its author's incident has open ('' none)
    escalation: Any
    shadow: bool


class Committer:
    """Commits decided batches for a worker."""

    def __init__(
        self,
        *,
        redis: aioredis.Redis,
        streams: Streams,
        group: str,
        policy_for: Callable[[Tenant], Policy],
        clock: Callable[[], datetime],
        stream_maxlen: int,
        verdict_ttl_s: int,
    ) -> None:
        self._redis = redis
        self._streams = streams
        self._group = group
        self._policy_for = policy_for
        self._clock = clock
        self._maxlen = stream_maxlen
        self._ttl = verdict_ttl_s
        self._script = register_script(redis, APPLY_FUNCTION + _COMMIT)
        self._cases = CaseStore(redis=redis, streams=streams, clock=clock)
        self._case_keys = CaseKeys(streams)
        self._shadow = ShadowSwitch(redis=redis, streams=streams)
        self._escalations = EscalationStore(redis=redis, streams=streams)

    async def commit(self, done: Sequence[Assessment]) -> list[bool]:
        """Whether each entry was decided now (False: decided before, nothing changed).

        Raises:
            RuntimeError: an incident kept changing under the plan (the entries stay pending).
        """
        done = await self._leave_exempt(done)
        fresh: dict[int, bool] = {}
        todo = list(range(len(done)))
        for _ in range(_ATTEMPTS):
            items = [done[i] for i in todo]
            results = await self._attempt(items)
            again = []
            for i, (code, _) in zip(todo, results, strict=True):
                if int(code) == -1:
                    again.append(i)
                else:
                    fresh[i] = int(code) == 1
            if not again:
                return [fresh[i] for i in range(len(done))]
            log.info("incident changed under the plan; planning again", count=len(again))
            todo = again
        raise RuntimeError("an incident kept changing during the commit")

    async def _leave_exempt(self, done: Sequence[Assessment]) -> Sequence[Assessment]:
        """Messages in channels moderators exempted (``/mod channel #c exempt on``) keep their
        verdict but lose their actions: nothing is done, no case opened."""
        where = {(Tenant.of(item.message), item.message.channel) for item in done if item.actions}
        exempt = await self._shadow.exempted(where)
        if not exempt:
            return done
        return [
            item.model_copy(update={"actions": ()})
            if (Tenant.of(item.message), item.message.channel) in exempt
            else item
            for item in done
        ]

    async def _attempt(self, items: Sequence[Assessment]) -> list[Any]:
        seen = await self._number(items, await self._read(items))
        now = self._clock()
        plans = [
            self._plan(item, s, number, now) for item, (s, number) in zip(items, seen, strict=True)
        ]
        if is_cluster(self._redis):  # no scripts in a cluster pipeline: one call each, in order
            return [await self._script(keys=keys, args=args) for keys, args in plans]
        async with self._redis.pipeline(transaction=False) as pipe:
            for keys, args in plans:
                await self._script(keys=keys, args=args, client=pipe)
            return list(await pipe.execute())

    async def _number(
        self, items: Sequence[Assessment], seen: list[_Seen]
    ) -> list[tuple[_Seen, str | None]]:
        """Which case each message opens or joins. A repeat of an incident that an earlier
        message of the same batch opens joins it; a message delivered twice in one batch
        opens nothing the second time; only new cases take a number (one INCRBY)."""
        refs: list[int | str | None] = []
        incidents: dict[tuple[Tenant, str, str], tuple[int | str, float]] = {}
        keys: set[str] = set()
        fresh = 0
        for item, s in zip(items, seen, strict=True):
            message = item.message
            if not _opens(item) or s.decided or message.key in keys:
                refs.append(None)
                continue
            keys.add(message.key)
            where = (Tenant.of(message), message.channel, message.author.id)
            at = message.ts.timestamp()
            assert item.verdict is not None  # checked by the worker
            window = incident_window(item.verdict, self._policy_for(where[0]))
            known = incidents.get(where)
            ref: int | str
            if s.incident:
                ref = s.incident
            elif known is not None and abs(at - known[1]) <= window:
                ref = known[0]
            else:
                ref, fresh = fresh, fresh + 1
            incidents[where] = (ref, max(at, known[1]) if known else at)
            refs.append(ref)
        # A worker commits one partition's entries at a time: one counter numbers them all.
        tenant = Tenant.of(items[0].message) if items else None
        first = 0
        if fresh and tenant is not None:
            seq = self._case_keys.seq(tenant)
            first = int(await self._redis.incrby(seq, fresh)) - fresh + 1
        out: list[tuple[_Seen, str | None]] = []
        opened: set[int] = set()
        for s, slot in zip(seen, refs, strict=True):
            if slot is None:
                out.append((replace(s, decided=True) if not s.decided else s, None))
            elif isinstance(slot, str):
                out.append((s, None))
            elif slot not in opened:
                opened.add(slot)
                out.append((replace(s, incident=""), self._number_of(first + slot, tenant)))
            else:  # joins the case an earlier message of this batch opens
                out.append((replace(s, incident=self._number_of(first + slot, tenant)), None))
        return out

    def _number_of(self, n: int, tenant: Tenant | None) -> str:
        assert tenant is not None  # a fresh number implies a message
        return self._case_keys.number(n, tenant)

    async def _read(self, items: Sequence[Assessment]) -> list[_Seen]:
        """What planning a case needs, read in one round trip for the messages that open one
        (the others need nothing: the script itself sees a redelivery); each tenant's shadow
        switches once."""
        opening = [item for item in items if _opens(item)]
        tenants = list(dict.fromkeys(Tenant.of(item.message) for item in opening))
        async with self._redis.pipeline(transaction=False) as pipe:
            for item in opening:
                message = item.message
                own = self._streams.tenant(Tenant.of(message))
                pipe.hexists(self._streams.verdict_key(message.key), "verdict")
                pipe.hmget(own.incident(message.channel, message.author.id), ["case", "at"])
                pipe.get(self._escalations.key(message.key))
            for tenant in tenants:
                pipe.hgetall(self._streams.tenant(tenant).shadow)
            raw = await pipe.execute() if opening else []
        switched = {
            tenant: {_text(k) for k, v in fields.items() if _text(v) == "1"}
            for tenant, fields in zip(tenants, raw[3 * len(opening) :], strict=True)
        }
        read = iter(range(0, 3 * len(opening), 3))
        seen = []
        for item in items:
            if not _opens(item):
                seen.append(_Seen(decided=False, incident="", escalation=None, shadow=False))
                continue
            n = next(read)
            decided, (case, at), escalated = raw[n : n + 3]
            verdict = item.verdict
            assert verdict is not None  # checked by the worker
            tenant = Tenant.of(item.message)
            incident = ""
            if case is not None:
                window = incident_window(verdict, self._policy_for(tenant))
                if abs(item.message.ts.timestamp() - float(_text(at))) <= window:
                    incident = _text(case)
            opens = next(a for a in item.actions if isinstance(a, OpenCase))
            category = verdict.category or opens.category
            seen.append(
                _Seen(
                    decided=bool(decided),
                    incident=incident,
                    escalation=escalated,
                    shadow=ShadowSwitch.covers(switched[tenant], item.message.channel, category),
                )
            )
        return seen

    def _plan(
        self, item: Assessment, seen: _Seen, number: str | None, now: datetime
    ) -> tuple[list[str], list[Any]]:
        message, verdict = item.message, item.verdict
        assert verdict is not None
        tenant = Tenant.of(message)
        own = self._streams.tenant(tenant)
        policy = self._policy_for(tenant)
        keys = [
            self._streams.verdict_key(message.key),
            self._streams.verdicts,
            self._streams.ingest,
            self._streams.actions(message.platform),
            self._streams.errors,
            own.stats(day_of(now)),
            own.incident(message.channel, message.author.id),
            own.scores(day_of(now)),
        ]
        actions = list(item.actions)
        window, plan = 0, ""
        case_id = "" if seen.decided else (seen.incident or number or "")
        opens = next((a for a in actions if isinstance(a, OpenCase)), None)
        if opens is not None and not case_id:
            window = -1  # planned as decided before: the script checks that it was
        elif opens is not None:
            window = incident_window(verdict, policy)
            actions = with_case(actions, case_id)
            if seen.incident:
                keys += [
                    self._cases.keys.events(case_id, tenant),
                    self._cases.keys.dedupe(opens.id, tenant),
                ]
                plan = repeat_event(message, verdict, now).model_dump_json()
            else:
                escalated = self._escalations.parse(seen.escalation)
                change = plan_opening(
                    case_id=case_id,
                    action=opens.model_copy(update={"case_id": case_id}),
                    message=message,
                    verdict=verdict,
                    policy=policy,
                    shadow=seen.shadow,
                    escalation=escalated.for_case() if escalated else None,
                    now=now,
                )
                keys += self._cases.change_keys(change)
                plan = self._cases.change_payload(change)
        args = [
            self._group,
            item.entry_id,
            verdict.model_dump_json(),
            message.model_dump_json(),
            self._maxlen,
            self._ttl,
            json.dumps(_counters(actions)),
            BUCKET_TTL_S,
            window,
            repr(message.ts.timestamp()),
            seen.incident,
            case_id,
            plan,
            json.dumps(score_counters(verdict)),
            SCORES_TTL_S,
            *(action.model_dump_json() for action in actions),
        ]
        return keys, args


def _counters(actions: Sequence[Action]) -> dict[str, int]:
    """What a decided message adds to its tenant's stats: itself, and any FAQ answer."""
    counts = {Counter.MESSAGES_DECIDED: 1}
    for action in actions:
        if isinstance(action, Reply) and action.faq_id:
            counts[Counter.FAQ_ANSWERED] = counts.get(Counter.FAQ_ANSWERED, 0) + 1
            counts[Counter.faq(action.faq_id)] = counts.get(Counter.faq(action.faq_id), 0) + 1
    return counts


def _opens(item: Assessment) -> bool:
    return any(isinstance(a, OpenCase) for a in item.actions)
