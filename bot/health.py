"""Whether a process is ready for work: the parts it needs, each ready or with a reason.

What ``/readyz`` reports (:mod:`bot.metrics_server`). A worker needs its model loaded and Redis
answering; an adapter process also needs its platform connected.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import redis.asyncio as aioredis
from redis.exceptions import RedisError

__all__ = ["Check", "Health", "redis_check"]

#: Asked on every probe: None when the part is fine, else a short reason.
Check = Callable[[], Awaitable[str | None]]


class Health:
    """The parts a process needs before it takes work.

    A part is either marked by the process itself (:meth:`waiting`, :meth:`ready`: the model
    loading, an adapter connecting) or watched (:meth:`watch`: its check runs on every probe,
    so Redis going away mid-run shows at once). A part named again replaces the old entry.
    """

    def __init__(self) -> None:
        self._checks: dict[str, Check] = {}

    def waiting(self, part: str, reason: str) -> None:
        """``part`` is not ready, for ``reason`` ("loading", "connection refused")."""
        self._checks[part] = _constant(reason)

    def ready(self, part: str) -> None:
        self._checks[part] = _constant(None)

    def watch(self, part: str, check: Check) -> None:
        """``part`` is as ready as ``check()`` says, each time it is asked."""
        self._checks[part] = check

    async def problems(self) -> dict[str, str]:
        """The parts not ready and why, in the order they were named; empty when ready."""
        found: dict[str, str] = {}
        for part, check in list(self._checks.items()):
            reason = await check()
            if reason is not None:
                found[part] = reason
        return found


def redis_check(redis: aioredis.Redis, *, timeout_s: float = 2.0) -> Check:
    """A check that Redis answers PING within ``timeout_s``."""

    async def ping() -> str | None:
        try:
            await asyncio.wait_for(redis.ping(), timeout_s)
        except TimeoutError:
            return f"no answer to PING within {timeout_s:g} s"
        except (RedisError, OSError) as exc:
            return str(exc) or type(exc).__name__
        return None

    return ping


def _constant(reason: str | None) -> Check:
    async def check() -> str | None:
        return reason

    return check
