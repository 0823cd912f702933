"""Changing a namespace's partition count: drain, then switch (``modtriage partitions set N``).

See :mod:`bot.partitions` for why the count is fixed while processes run. The switch first
reads every key of the old layout and sorts it by the tenant it belongs to (named in the key,
or in the case document it belongs to); a key it does not know stops it before anything
moves. Then, with the adapters stopped and the workers and dispatchers drained:

- a tenant's keys move to its new partition's tag (DUMP, RESTORE with the TTL left, DEL);
- the verdict and dead-letter histories are merged, oldest first, into the new streams;
- held actions, the per-partition case and tenant indexes and raid modes are rebuilt;
- the new case counters start above the highest old id, so case ids stay unique;
- the emptied ingest and actions streams and their delivery marks are removed;
- the new count is recorded. Processes started with the old count refuse to run from here on.
"""

from __future__ import annotations

import json
from collections import defaultdict
from typing import Any

import redis.asyncio as aioredis
from pydantic import BaseModel, ConfigDict

from bot.errors import ConfigError
from bot.keys import CaseKeys, Streams
from bot.partitions import backlogs, recorded_partitions
from bot.tenant import Tenant

__all__ = ["Repartitioned", "repartition"]

#: Heads of the namespace's shared keys (under {ns} itself, never a partition's).
_SHARED = {"policy", "frontier", "faq", "partitions"}
#: Heads of keys named by a message key (<platform>:<workspace>:...) or a tenant.
_BY_MESSAGE = {"verdict", "escalation", "case-by-message"}
#: Delivery state of drained streams: nothing left to deliver, nothing to keep.
_DROPPED = {"ingest", "actions", "errors", "attempts", "done", "inflight"}


class Repartitioned(BaseModel):
    """What the switch did."""

    model_config = ConfigDict(frozen=True)

    before: int
    after: int
    moved: int  # keys moved to their tenant's new partition
    history: int  # verdict and dead-letter entries merged
    dropped: int  # keys of drained streams removed


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _tenant_of_key(rest: str) -> Tenant:
    """The tenant named at the front of ``rest`` (``<platform>:<workspace>:...``)."""
    platform, _, tail = rest.partition(":")
    return Tenant.parse(f"{platform}:{tail.partition(':')[0]}")


class _Plan:
    def __init__(self) -> None:
        self.moves: list[tuple[str, Tenant]] = []  # (old key, tenant)
        self.dropped: list[str] = []
        self.history: list[tuple[str, str]] = []  # (old stream, kind)
        self.cases: list[tuple[str, float]] = []  # (case id, opened at)
        self.tenants: set[str] = set()
        self.raids: list[tuple[str, float]] = []
        self.due: list[tuple[str, str, str]] = []  # (platform, zset, hash) of old partitions
        self.homes: dict[str, Tenant] = {}  # case id -> its tenant
        self.max_case = 0


async def repartition(redis: aioredis.Redis, streams: Streams, partitions: int) -> Repartitioned:
    """Switch ``streams``' namespace to ``partitions`` partitions (see the module).

    Raises:
        ConfigError: ``streams`` does not have the recorded count, work is still waiting in a
            partition, or a key of unknown shape is in the namespace (nothing moved then).
        RedisError: Redis failed; rerun the same command to finish (moved keys are skipped).
    """
    recorded = await recorded_partitions(redis, streams) or streams.partitions
    if recorded != streams.partitions:
        raise ConfigError(
            f"the namespace has {recorded} partitions, not {streams.partitions}: run with "
            f"MODTRIAGE_PARTITIONS={recorded}"
        )
    waiting = [b for b in await backlogs(redis, streams) if b.ingest_waiting or b.actions_waiting]
    if waiting:
        said = ", ".join(
            f"partition {b.partition}: {b.ingest_waiting} messages, {b.actions_waiting} actions"
            for b in waiting
        )
        raise ConfigError(
            f"not drained ({said}): stop the adapters, let the workers and dispatchers finish, "
            "then run this again"
        )
    if partitions == streams.partitions:
        return Repartitioned(before=recorded, after=partitions, moved=0, history=0, dropped=0)
    target = Streams(namespace=streams.namespace, group=streams.group, partitions=partitions)
    plan = await _read(redis, streams)
    moved = await _move(redis, streams, target, plan)
    history = await _merge_history(redis, target, plan)
    await _rebuild(redis, target, plan)
    for key in plan.dropped:
        await redis.delete(key)
    await redis.set(target.partitions_key, partitions)
    return Repartitioned(
        before=recorded, after=partitions, moved=moved, history=history, dropped=len(plan.dropped)
    )


async def _read(redis: aioredis.Redis, streams: Streams) -> _Plan:
    plan = _Plan()
    doc_tenant: dict[tuple[str, str], Tenant | None] = {}

    async def case_tenant(tag: str, case_id: str) -> Tenant | None:
        if (tag, case_id) not in doc_tenant:
            doc = await redis.hget(f"{tag}:case:{case_id}", "doc")
            found = None
            if doc is not None:
                message = json.loads(doc)["message"]
                found = Tenant(platform=message["platform"], workspace=message["workspace"])
            doc_tenant[(tag, case_id)] = found
        return doc_tenant[(tag, case_id)]

    unknown = []
    for part in streams.every_partition():
        tag = part.own
        async for raw in redis.scan_iter(match=f"{tag}:*", count=1000):
            key = _text(raw)
            rest = key[len(tag) + 1 :]
            head, _, tail = rest.partition(":")
            if head in _SHARED and streams.partitions == 1:
                continue
            if head in _DROPPED:
                plan.dropped.append(key)
            elif head in {"verdicts", "dead"}:
                plan.history.append((key, head))
                plan.dropped.append(key)
            elif head in {"due", "due-action"}:
                if head == "due":
                    plan.due.append((tail, part.due(tail), part.due_actions(tail)))
                plan.dropped.append(key)
            elif head == "case-seq":
                plan.max_case = max(plan.max_case, int(_text(await redis.get(key) or 0)))
                plan.dropped.append(key)
            elif head == "cases":
                scored: Any = await redis.zrange(key, 0, -1, withscores=True)
                plan.cases += [(_text(m), float(s)) for m, s in scored]
                plan.dropped.append(key)
            elif head == "tenants":
                plan.tenants |= {_text(m) for m in await redis.smembers(key)}
                plan.dropped.append(key)
            elif head == "raids":
                scored = await redis.zrange(key, 0, -1, withscores=True)
                plan.raids += [(_text(m), float(s)) for m, s in scored]
                plan.dropped.append(key)
            elif head in {"case", "case-for"}:
                case_id = tail.split(":", 1)[0] if head == "case" else _text(await redis.get(key))
                tenant = await case_tenant(tag, case_id)
                if tenant is None:
                    plan.dropped.append(key)  # what is left of a case that is gone
                else:
                    plan.moves.append((key, tenant))
                    plan.homes[case_id] = tenant
            elif head in _BY_MESSAGE or head == "tenant":
                plan.moves.append((key, _tenant_of_key(tail)))
            elif head in {"rate", "recent"}:  # rate:<kind>:<platform>:<workspace>:...
                named = tail if head == "recent" else tail.partition(":")[2]
                plan.moves.append((key, _tenant_of_key(named)))
            else:
                unknown.append(key)
    if unknown:
        raise ConfigError(
            f"{len(unknown)} keys of a shape this version does not know, e.g. {unknown[0]!r}: "
            "nothing was moved"
        )
    plan.max_case = max([plan.max_case, *(int(i) for i, _ in plan.cases if i.isdigit())])
    return plan


async def _move(redis: aioredis.Redis, old: Streams, new: Streams, plan: _Plan) -> int:
    moved = 0
    for key, tenant in plan.moves:
        tag = key.partition("}")[0] + "}"
        renamed = new.tag(new.partition_of(tenant)) + key[len(tag) :]
        if renamed == key:
            continue
        dumped = await redis.dump(key)
        if dumped is None:
            continue  # expired meanwhile
        ttl = max(0, int(await redis.pttl(key)))
        await redis.restore(renamed, ttl, dumped, replace=True)
        await redis.delete(key)
        moved += 1
    return moved


async def _merge_history(redis: aioredis.Redis, new: Streams, plan: _Plan) -> int:
    """Verdicts and dead letters of every old partition into the new ones, oldest first."""
    entries: dict[str, list[tuple[tuple[int, int], dict[Any, Any]]]] = defaultdict(list)
    for stream, kind in plan.history:
        read: Any = await redis.xrange(stream)
        for entry_id, fields in read:
            ms, _, seq = _text(entry_id).partition("-")
            raw = fields.get(b"message")
            part = 0
            if raw is not None:
                message = json.loads(raw)
                tenant = Tenant(platform=message["platform"], workspace=message["workspace"])
                part = new.partition_of(tenant)
            target = new.part(part).verdicts if kind == "verdicts" else new.part(part).dead
            entries[target].append(((int(ms), int(seq)), fields))
    merged = 0
    for target, items in entries.items():
        last = (0, 0)
        for when, fields in sorted(items, key=lambda item: item[0]):
            at = when if when > last else (last[0], last[1] + 1)
            await redis.xadd(target, fields, id=f"{at[0]}-{at[1]}")
            last, merged = at, merged + 1
    return merged


async def _rebuild(redis: aioredis.Redis, new: Streams, plan: _Plan) -> None:
    cases = CaseKeys(new)
    for case_id, opened in plan.cases:
        if case_id in plan.homes:
            await redis.zadd(cases.all(plan.homes[case_id]), {case_id: opened})
    for name in plan.tenants:
        await redis.sadd(cases.tenants(Tenant.parse(name)), name)
    for name, ends in plan.raids:
        await redis.zadd(new.of(Tenant.parse(name)).raids, {name: ends})
    for platform, zset, hash_key in plan.due:
        held_ids: Any = await redis.zrange(zset, 0, -1, withscores=True)
        for action_id, at in held_ids:
            doc = await redis.hget(hash_key, action_id)
            if doc is None:
                continue
            held = json.loads(doc)
            own = new.of(Tenant(platform=held["platform"], workspace=held["workspace"]))
            await redis.zadd(own.due(platform), {_text(action_id): at})
            await redis.hset(own.due_actions(platform), _text(action_id), _text(doc))
    for k in range(new.partitions):  # the next id of every partition is above every old one
        await redis.set(cases.partition_seq(k), plan.max_case // new.partitions)
