"""``modtriage worker --processes N``: N workers under one parent; a child that dies comes back,
nothing is decided twice, and neither a stopped nor a killed parent leaves a worker behind."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

from bot.connection import Redis
from bot.message import Author, Message
from bot.pipeline.ingest import Ingest
from bot.runtime import consumer_name
from bot.streams import Streams
from tests.conftest import ROOT


def _messages(first: int, n: int) -> list[Message]:
    return [
        Message(
            platform="console",
            workspace="T1",
            channel=f"c{i % 4}",
            id=f"m{i}",
            author=Author(id=f"u{i}"),
            text=f"hello number {i}",
        )
        for i in range(first, first + n)
    ]


def _start(redis_url: str, namespace: str, tmp_path: Path, *args: str) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MODTRIAGE_")} | {
        "REDIS_URL": redis_url,
        "MODTRIAGE_NAMESPACE": namespace,
        "MODTRIAGE_CLASSIFIER": "rules",
        "MODTRIAGE_CLAIM_IDLE_MS": "300",
        "MODTRIAGE_DATA_DIR": str(tmp_path / "data"),
    }
    with (tmp_path / "workers.log").open("ab") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "bot", "worker", *args], env=env, cwd=ROOT,
            stdout=subprocess.DEVNULL, stderr=log,
        )  # fmt: skip


def _children(parent: int) -> set[int]:
    path = Path(f"/proc/{parent}/task/{parent}/children")
    return {int(pid) for pid in path.read_text().split()} if path.exists() else set()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}").exists() and "Z" not in _state(pid)


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
    except (FileNotFoundError, IndexError):
        return "Z"


async def _until(predicate: Any, timeout: float = 60.0) -> None:
    async with asyncio.timeout(timeout):
        while not await predicate():
            await asyncio.sleep(0.05)


def _ready(tmp_path: Path, pids: set[int]) -> bool:
    """Every one of ``pids`` said it is ready (its consumer name carries its pid)."""
    log = (tmp_path / "workers.log").read_text()
    return bool(pids) and all(f"worker {consumer_name(pid=p)} ready" in log for p in pids)


async def _decided_keys(redis: Redis, streams: Streams) -> list[str]:
    verdicts = await redis.xrange(streams.verdicts)
    return [Message.model_validate_json(f[b"message"]).key for _, f in verdicts]


async def test_two_workers_share_the_stream_and_a_killed_one_comes_back(
    redis: Redis, redis_url: str, namespace: str, tmp_path: Path
) -> None:
    streams = Streams(namespace=namespace)
    ingest = Ingest(redis=redis, streams=streams)
    parent = _start(redis_url, namespace, tmp_path, "--processes", "2")
    children: set[int] = set()
    try:

        async def two_children_reading() -> bool:
            pids = _children(parent.pid)
            return len(pids) == 2 and _ready(tmp_path, pids)

        await _until(two_children_reading)
        first_children = _children(parent.pid)
        sent = _messages(0, 300)
        for message in sent:
            await ingest.publish(message)

        async def all_decided() -> bool:
            return len(await _decided_keys(redis, streams)) >= len(sent)

        await _until(all_decided)
        victim = min(first_children)
        os.kill(victim, signal.SIGKILL)

        async def replaced() -> bool:
            now = _children(parent.pid)
            return len(now) == 2 and victim not in now and _ready(tmp_path, now)

        await _until(replaced)
        more = _messages(300, 200)
        for message in more:
            await ingest.publish(message)
        sent += more
        await _until(all_decided)
        await asyncio.sleep(0.5)  # a verdict decided twice would show up now
        keys = await _decided_keys(redis, streams)
        assert sorted(keys) == sorted(m.key for m in sent)  # every message once
        survivor = (first_children - {victim}).pop()
        assert survivor in _children(parent.pid)  # the other child was left alone
        children = _children(parent.pid)
    finally:
        parent.send_signal(signal.SIGTERM)
        code = parent.wait(timeout=40)
    assert code == 0
    assert not any(_alive(pid) for pid in children)  # SIGTERM reached both and they finished


async def test_a_killed_parent_leaves_no_worker_behind(
    redis_url: str, namespace: str, tmp_path: Path
) -> None:
    parent = _start(redis_url, namespace, tmp_path, "--processes", "2")
    try:

        async def two_children_reading() -> bool:
            pids = _children(parent.pid)
            return len(pids) == 2 and _ready(tmp_path, pids)

        await _until(two_children_reading)
        children = _children(parent.pid)
        parent.send_signal(signal.SIGKILL)
        parent.wait(timeout=10)

        async def children_gone() -> bool:
            return not any(_alive(pid) for pid in children)

        await _until(children_gone, timeout=30)
    finally:
        if parent.poll() is None:
            parent.kill()
    assert "supervisor is gone" in (tmp_path / "workers.log").read_text()
