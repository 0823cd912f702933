"""Counting what became of every entry a scenario wrote, from Redis itself and the far side.

Decided: the message's verdict hash holds a verdict. Dead-lettered: the dead-letter stream
names the entry. Lost: neither. Actions: each one the worker emitted onto the console actions
stream must be done (``done:<id>``) or dead-lettered; the console adapter's record file says
how often each was performed, and twice is a duplicate.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Collection, Sequence
from pathlib import Path
from typing import Any

import redis.asyncio as aioredis
from pydantic import BaseModel, ConfigDict

from bot.chaos.traffic import Published
from bot.errors import MalformedMessage
from bot.pipeline.decide import MODEL_UNAVAILABLE_RULE
from bot.streams import Streams, decode_action
from bot.verdict import Route, Verdict

__all__ = ["ADAPTER_GROUP", "Tally", "dead_reasons", "drained", "performed", "tally"]

ADAPTER_GROUP = "adapters"  # the consumer group of bot.adapters.dispatch on actions streams
_CHUNK = 500


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


async def _entries(redis: aioredis.Redis, stream: str) -> list[tuple[str, dict[bytes, bytes]]]:
    """Every entry of a stream (a scenario's streams hold thousands, not millions)."""
    raw: Any = await redis.xrange(stream)
    return [(_text(entry_id), fields) for entry_id, fields in raw if fields is not None]


class Tally(BaseModel):
    """What Redis and the record file say about one scenario's entries."""

    model_config = ConfigDict(frozen=True)

    n: int
    decided: int
    dead_lettered: int
    dead_by_kind: dict[str, int]
    lost: int
    lost_kinds: tuple[str, ...] = ()
    dead_without_reason: int = 0
    degraded: int
    model_unavailable: int  # verdicts the rules alone made because the model did not answer
    slurs: int
    slurs_acted: int  # slurs with an act verdict whose delete the adapter performed
    actions: int  # distinct actions the worker emitted
    actions_performed: int
    actions_undone: int  # emitted, neither done nor dead-lettered
    actions_dead_lettered: int
    duplicated_actions: int  # performances beyond the first, over all actions
    # of those, actions whose first performance was the last act of a process that was then
    # SIGKILLed: performed, killed before the done mark was written, performed again
    duplicated_at_death: int
    # actions one process performed twice: it re-read its own unfinished actions after a Redis
    # error broke its loop between performing one and marking it done
    duplicated_by_one_process: int


def performed(record: Path) -> list[dict[str, Any]]:
    """The console adapter's record: one row (``id``, ``type``, ``message_key``, ``pid``) per
    action performed, in order."""
    if not record.exists():
        return []
    with record.open(encoding="utf-8") as lines:
        return [json.loads(line) for line in lines if line.strip()]


async def _verdicts(
    redis: aioredis.Redis, streams: Streams, keys: Sequence[str]
) -> dict[str, Verdict]:
    found: dict[str, Verdict] = {}
    for start in range(0, len(keys), _CHUNK):
        chunk = keys[start : start + _CHUNK]
        async with redis.pipeline(transaction=False) as pipe:
            for key in chunk:
                pipe.hget(streams.verdict_key(key), "verdict")
            raw = await pipe.execute()
        for key, value in zip(chunk, raw, strict=True):
            if value is not None:
                found[key] = Verdict.model_validate_json(value)
    return found


async def _exists(redis: aioredis.Redis, keys: Sequence[str]) -> list[bool]:
    out: list[bool] = []
    for start in range(0, len(keys), _CHUNK):
        async with redis.pipeline(transaction=False) as pipe:
            for key in keys[start : start + _CHUNK]:
                pipe.exists(key)
            out += [bool(v) for v in await pipe.execute()]
    return out


async def drained(redis: aioredis.Redis, streams: Streams, *, platform: str = "console") -> bool:
    """Whether the workers and the dispatcher have read and acknowledged every entry there is
    (the backlog is gone; a group not created yet has not started)."""
    readers = ((streams.ingest, streams.group), (streams.actions(platform), ADAPTER_GROUP))
    for stream, group in readers:
        if not await redis.exists(stream):
            if stream == streams.ingest:
                return False
            continue
        info: Any = await redis.xinfo_stream(stream)
        groups: Any = await redis.xinfo_groups(stream)
        mine = [g for g in groups if _text(g["name"]) == group]
        if not mine:
            return False
        last = _text(info["last-generated-id"])
        if mine[0]["pending"] or _text(mine[0]["last-delivered-id"]) != last:
            return False
    return True


def _died_after(rows: Sequence[dict[str, Any]], killed: Collection[int]) -> set[str]:
    """Actions performed more than once whose first performance was the last thing a killed
    process performed."""
    times = Counter(r["id"] for r in rows)
    first: dict[str, int] = {}
    last_act: dict[int, str] = {}
    for row in rows:
        first.setdefault(row["id"], row["pid"])
        last_act[row["pid"]] = row["id"]
    return {
        i for i, count in times.items()
        if count > 1 and first[i] in killed and last_act[first[i]] == i
    }  # fmt: skip


def _twice_by_one(rows: Sequence[dict[str, Any]]) -> set[str]:
    """Actions some process performed more than once."""
    return {i for (i, _), count in Counter((r["id"], r["pid"]) for r in rows).items() if count > 1}


def _rules_alone(verdict: Verdict) -> bool:
    return any(e.rule == MODEL_UNAVAILABLE_RULE for e in verdict.evidence)


async def dead_reasons(
    redis: aioredis.Redis, streams: Streams, published: Sequence[Published], width: int = 90
) -> list[str]:
    """The distinct reasons the published entries were dead-lettered with, shortened."""
    ids = {p.entry_id for p in published}
    reasons: dict[str, None] = {}
    for _, fields in await _entries(redis, streams.dead):
        if _text(fields.get(b"entry_id", b"")) in ids:
            reason = _text(fields.get(b"reason", b""))
            reasons.setdefault(reason if len(reason) <= width else reason[: width - 1] + "…")
    return [f"dead-lettered: {r}" for r in reasons]


async def tally(
    redis: aioredis.Redis,
    streams: Streams,
    published: Sequence[Published],
    record: Path,
    *,
    killed: Collection[int] = (),
) -> Tally:
    """Account for every published entry and every action emitted for them; ``killed``: the
    pids of processes the scenario SIGKILLed."""
    ids = {p.entry_id for p in published}
    keys = [p.key for p in published if p.key is not None]
    verdicts = await _verdicts(redis, streams, keys)

    dead_ingest: dict[str, str] = {}
    dead_actions: set[str] = set()
    for dead_id, fields in await _entries(redis, streams.dead):
        entry_id = _text(fields.get(b"entry_id", b""))
        if b"action" in fields:
            try:
                dead_actions.add(decode_action(dead_id, fields).id)
            except MalformedMessage:
                dead_actions.add(entry_id)
        elif entry_id in ids:
            dead_ingest[entry_id] = _text(fields.get(b"reason", b""))

    lost = [
        p for p in published
        if p.entry_id not in dead_ingest and (p.key is None or p.key not in verdicts)
    ]  # fmt: skip

    mine = set(keys)
    emitted: dict[str, str] = {}  # action id -> message key, for this scene's messages
    for action_entry, fields in await _entries(redis, streams.actions("console")):
        try:
            action = decode_action(action_entry, fields)
        except MalformedMessage:
            continue  # the dispatcher dead-letters these; counted there
        if action.message_key in mine:
            emitted[action.id] = action.message_key
    action_ids = list(emitted)
    done = await _exists(redis, [streams.done(i) for i in action_ids])
    rows = [r for r in performed(record) if r["message_key"] in mine]
    times = Counter(r["id"] for r in rows)
    deleted = {r["message_key"] for r in rows if r["type"] == "delete"}
    slur_keys = [p.key for p in published if p.kind in ("slur", "hostile-slur") and p.key]
    acted = [
        k for k in slur_keys
        if k in verdicts and verdicts[k].route is Route.ACT and k in deleted
    ]  # fmt: skip
    undone = [i for i, d in zip(action_ids, done, strict=True) if not d and i not in dead_actions]
    return Tally(
        n=len(published),
        decided=len(verdicts),
        dead_lettered=len(dead_ingest),
        dead_by_kind=dict(Counter(p.kind for p in published if p.entry_id in dead_ingest)),
        lost=len(lost),
        lost_kinds=tuple(sorted({p.kind for p in lost})),
        dead_without_reason=sum(1 for r in dead_ingest.values() if not r.strip()),
        degraded=sum(1 for v in verdicts.values() if v.degraded),
        model_unavailable=sum(1 for v in verdicts.values() if _rules_alone(v)),
        slurs=len(slur_keys),
        slurs_acted=len(acted),
        actions=len(action_ids),
        actions_performed=len(times),
        actions_undone=len(undone),
        actions_dead_lettered=len(dead_actions & set(action_ids)),
        duplicated_actions=sum(c - 1 for c in times.values() if c > 1),
        duplicated_at_death=len(_died_after(rows, killed)),
        duplicated_by_one_process=len(_twice_by_one(rows)),
    )
