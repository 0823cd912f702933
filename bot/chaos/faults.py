"""The faults the chaos suite injects, each with a way to tell that it really happened."""

from __future__ import annotations

import asyncio
import contextlib
import random
import signal
import time
from collections.abc import Sequence
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from bot.chaos.cluster import Proc
from bot.chaos.redis_server import free_port

__all__ = [
    "FaultMissed",
    "HangingServer",
    "closed_port_url",
    "held_by",
    "kill_holding",
    "wait_answering",
]


class FaultMissed(RuntimeError):
    """A fault could not be injected as the scenario meant (nothing was in flight to hit)."""


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


async def held_by(redis: aioredis.Redis, stream: str, group: str, consumer: str) -> int:
    """Entries of ``stream`` that ``consumer`` read in ``group`` and has not acknowledged."""
    summary: Any = await redis.xpending(stream, group)
    for row in summary.get("consumers") or []:
        if _text(row["name"]) == consumer:
            return int(row["pending"])
    return 0


async def kill_holding(
    procs: Sequence[Proc],
    *,
    redis: aioredis.Redis,
    stream: str,
    group: str,
    rng: random.Random,
    timeout_s: float = 30.0,
) -> tuple[Proc, int]:
    """SIGKILL one of ``procs`` while it holds entries of ``stream`` it read but did not
    finish; returns it and what it still held after the kill.

    Each in turn is frozen (SIGSTOP) at a random moment; one that holds nothing runs on a
    little and the next is frozen. The first found holding entries is killed, and what it
    still holds after the kill (a commit it sent before freezing may land) is returned: more
    than zero means the kill really left work half-done.

    Raises:
        FaultMissed: none held anything within ``timeout_s`` (nothing left to read).
    """
    deadline = time.monotonic() + timeout_s
    turn = 0
    while time.monotonic() < deadline:
        alive = [p for p in procs if p.alive]
        if not alive:
            break
        proc = alive[turn % len(alive)]
        turn += 1
        proc.signal(signal.SIGSTOP)
        await asyncio.sleep(0.02)  # let the signal land and Redis run what was already sent
        if await held_by(redis, stream, group, proc.consumer):
            proc.kill()
            await asyncio.sleep(0.05)  # a reply in flight changes nothing now: it is dead
            return proc, await held_by(redis, stream, group, proc.consumer)
        proc.signal(signal.SIGCONT)
        await asyncio.sleep(rng.uniform(0.005, 0.05))
    raise FaultMissed(f"no {', '.join(sorted({p.role for p in procs}))} held anything of {stream}")


async def wait_answering(redis: aioredis.Redis, timeout_s: float = 30.0) -> None:
    """Until the server answers again (after a restart it first loads its AOF)."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            await redis.ping()
            return
        except (RedisError, OSError):
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.05)


class HangingServer:
    """A TCP server that accepts connections and never answers: a model server that hangs.

    ``connections`` counts who came: more than zero means the model really was asked.
    """

    def __init__(self) -> None:
        self.connections = 0
        self.port = 0
        self._server: asyncio.Server | None = None
        self._writers: list[asyncio.StreamWriter] = []

    @property
    def url(self) -> str:
        """The OpenAI-compatible base URL a classifier is pointed at."""
        return f"http://127.0.0.1:{self.port}/v1"

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self._writers.append(writer)
        with contextlib.suppress(OSError):
            while await reader.read(65536):  # take the request, say nothing, until it gives up
                pass

    async def __aenter__(self) -> HangingServer:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = int(self._server.sockets[0].getsockname()[1])
        return self

    async def __aexit__(self, *exc: object) -> None:
        for writer in self._writers:
            writer.close()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()


def closed_port_url() -> str:
    """A model server that is down: a local port nobody listens on (connection refused)."""
    return f"http://127.0.0.1:{free_port()}/v1"
