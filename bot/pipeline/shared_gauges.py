"""Gauges of state the workers share in Redis, for the dashboard and the alerts: how long the
oldest case has waited in each tenant's review queue and how many wait, and what the frontier
model has cost today and this month against its budgets.

The worker reads them beside the stream lag, at most once per ``interval_s``; every worker
reports the same figures (the dashboard and the alert rules take ``max()``).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import redis.asyncio as aioredis

from bot.escalation.budget import SpendingBudget
from bot.keys import CaseKeys
from bot.metrics import Metrics
from bot.streams import Streams
from bot.tenant import Tenant

__all__ = ["SharedGauges"]


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class SharedGauges:
    def __init__(
        self,
        *,
        redis: aioredis.Redis,
        streams: Streams,
        metrics: Metrics,
        budget: SpendingBudget,
        interval_s: float = 15.0,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._redis = redis
        self._keys = CaseKeys(streams)
        self._metrics = metrics
        self._budget = budget
        self._interval_s = interval_s
        self._clock = clock
        self._last: float | None = None
        metrics.frontier_budget.labels(period="day").set(budget.daily)
        metrics.frontier_budget.labels(period="month").set(budget.monthly)

    async def maybe_observe(self) -> None:
        """:meth:`observe`, unless it ran less than ``interval_s`` ago. Raises redis errors."""
        now = time.monotonic()
        if self._last is not None and now - self._last < self._interval_s:
            return
        self._last = now
        await self.observe()

    async def observe(self) -> None:
        """Read the queues and the spending now and set the gauges. Raises redis errors."""
        found: set[object] = set()
        for key in self._keys.every_tenants():
            found |= set(await self._redis.smembers(key))
        tenants = sorted((Tenant.parse(_text(t)) for t in found), key=str)
        async with self._redis.pipeline(transaction=False) as pipe:
            for tenant in tenants:
                queue = self._keys.tenant(tenant).queue
                pipe.zcard(queue)
                pipe.zrange(queue, 0, 0, withscores=True)
            raw: list[Any] = await pipe.execute()
        now = self._clock().timestamp()
        for i, tenant in enumerate(tenants):
            size, oldest = int(raw[2 * i]), raw[2 * i + 1]
            age = max(0.0, now - float(oldest[0][1])) if oldest else 0.0
            self._metrics.review_queue_cases.labels(tenant=str(tenant)).set(size)
            self._metrics.review_queue_oldest_seconds.labels(tenant=str(tenant)).set(age)
        day, month = await self._budget.spent()
        self._metrics.frontier_spent.labels(period="day").set(day)
        self._metrics.frontier_spent.labels(period="month").set(month)
