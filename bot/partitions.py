"""The partition count a deployment's streams were written with, and what changing it takes.

Every tenant's streams and state sit under its partition's hash tag (:mod:`bot.keys`), and the
partition is ``crc32(tenant) % P``: a process started with another ``MODTRIAGE_PARTITIONS``
would read and write other keys than the rest, and the messages already queued would wait
where nobody looks. So the count is recorded once (``{ns}:partitions``, set by the first worker
or adapter to start) and every worker and dispatcher refuses to start with another.

Changing it is a migration, :func:`repartition` (``modtriage partitions set N``): stop the
adapters, let the workers and dispatchers drain what is queued, then switch. The switch checks
that nothing is waiting (no entry undelivered or pending on an ingest or actions stream, no
held action), moves every key of the old layout to its tenant's new partition (DUMP, RESTORE
with its TTL, DEL), merges the verdict histories in order, numbers new cases after the highest
old id, and records the new count; then the processes restart with it.
"""

from __future__ import annotations

from collections.abc import Sequence

import redis.asyncio as aioredis
from pydantic import BaseModel, ConfigDict

from bot.errors import ConfigError
from bot.keys import Streams
from bot.trim import read_backlog

__all__ = ["PLATFORMS", "PartitionBacklog", "backlogs", "check_layout", "recorded_partitions"]

#: The platforms whose actions streams a partition may hold.
PLATFORMS = ("slack", "discord", "console")


class PartitionBacklog(BaseModel):
    """What one partition still has to do."""

    model_config = ConfigDict(frozen=True)

    partition: int
    ingest_waiting: int  # entries no worker was given yet, or given and not acknowledged
    actions_waiting: int  # actions not performed yet, every platform
    held: int  # actions held until a time (a temporary ban's unban)

    @property
    def drained(self) -> bool:
        return not (self.ingest_waiting or self.actions_waiting or self.held)


def _int(value: object) -> int:
    return int(value.decode() if isinstance(value, bytes) else str(value))


async def recorded_partitions(redis: aioredis.Redis, streams: Streams) -> int | None:
    """The count the streams were written with, None before any process recorded one."""
    raw = await redis.get(streams.partitions_key)
    return None if raw is None else _int(raw)


async def check_layout(redis: aioredis.Redis, streams: Streams) -> None:
    """Record ``streams.partitions`` if none is, else check it is the one recorded.

    Raises:
        ConfigError: the streams were written with another count.
        RedisError: Redis is unreachable.
    """
    await redis.set(streams.partitions_key, streams.partitions, nx=True)
    recorded = await recorded_partitions(redis, streams)
    if recorded is not None and recorded != streams.partitions:
        raise ConfigError(
            f"MODTRIAGE_PARTITIONS is {streams.partitions}, but namespace {streams.namespace!r} "
            f"was written with {recorded} partitions: set it back to {recorded}, or drain and "
            f"switch with `modtriage partitions set {streams.partitions}`"
        )


async def backlogs(redis: aioredis.Redis, streams: Streams) -> list[PartitionBacklog]:
    """Each partition's waiting work. Raises RedisError."""
    out = []
    for part in streams.every_partition():
        ingest = await read_backlog(redis, part.ingest)
        waiting = sum(g.pending + g.undelivered for g in ingest.groups)
        if not ingest.groups:
            waiting = ingest.length  # written, and no worker ever read it
        actions = 0
        for platform in PLATFORMS:
            backlog = await read_backlog(redis, part.actions(platform))
            actions += sum(g.pending + g.undelivered for g in backlog.groups)
            if not backlog.groups:
                actions += backlog.length
        held = sum([int(await redis.zcard(part.due(platform))) for platform in PLATFORMS])
        out.append(
            PartitionBacklog(
                partition=part.partition or 0,
                ingest_waiting=waiting,
                actions_waiting=actions,
                held=held,
            )
        )
    return out


def keda_triggers(streams: Streams, *, lag_per_worker: int) -> dict[str, object]:
    """The ScaledObject ``spec`` part that scales workers on the summed lag of every
    partition's ingest stream (KEDA's ``redis-cluster-streams`` scaler, one trigger a
    partition, added up by a scaling modifier)."""
    triggers = [
        {
            "type": "redis-cluster-streams",
            "name": f"p{part.partition}",
            "metadata": {
                "stream": part.ingest,
                "consumerGroup": part.group,
                "lagCount": str(lag_per_worker),
            },
            "authenticationRef": {"name": "modtriage-redis-cluster"},
        }
        for part in streams.every_partition()
    ]
    names: Sequence[str] = [str(t["name"]) for t in triggers]
    return {
        "advanced": {
            "scalingModifiers": {
                "formula": " + ".join(names),
                "target": str(lag_per_worker),
                "metricType": "AverageValue",
            }
        },
        "triggers": triggers,
    }
