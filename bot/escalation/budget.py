"""Daily and monthly spending limits for the frontier model, shared by every worker.

A call first *reserves* its worst-case cost (estimated input tokens, full output allowance)
atomically against both limits, then *settles* the difference once the API reports the real
usage, or refunds the reservation when no answer came. Amounts are kept in Redis as integer
millionths of the currency, so concurrent workers add up exactly.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import redis.asyncio as aioredis
from pydantic import BaseModel, ConfigDict

from bot.connection import register_script
from bot.errors import BudgetExhausted
from bot.streams import Streams

__all__ = ["Reservation", "SpendingBudget"]

_MICRO = 1_000_000

_RESERVE = """
local day = tonumber(redis.call('GET', KEYS[1]) or '0')
local month = tonumber(redis.call('GET', KEYS[2]) or '0')
local amount = tonumber(ARGV[1])
if day + amount > tonumber(ARGV[2]) then return {1, day} end
if month + amount > tonumber(ARGV[3]) then return {2, month} end
redis.call('INCRBY', KEYS[1], amount)
redis.call('EXPIRE', KEYS[1], 2 * 86400)
redis.call('INCRBY', KEYS[2], amount)
redis.call('EXPIRE', KEYS[2], 32 * 86400)
return {0, 0}
"""


class Reservation(BaseModel):
    """An amount held against the day's and the month's budget."""

    model_config = ConfigDict(frozen=True)

    day_key: str
    month_key: str
    micros: int


class SpendingBudget:
    def __init__(
        self,
        *,
        redis: aioredis.Redis,
        streams: Streams,
        model: str,
        daily: float,
        monthly: float,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._redis = redis
        self._streams = streams
        self._model = model
        self._daily = daily
        self._monthly = monthly
        self._clock = clock
        self._reserve = register_script(redis, _RESERVE)

    @property
    def daily(self) -> float:
        """The day's limit (UTC days), in the configured currency."""
        return self._daily

    @property
    def monthly(self) -> float:
        """The month's limit, in the configured currency."""
        return self._monthly

    def _keys(self) -> tuple[str, str]:
        now = self._clock().astimezone(UTC)
        return (
            self._streams.frontier_spend("day", f"{now:%Y-%m-%d}"),
            self._streams.frontier_spend("month", f"{now:%Y-%m}"),
        )

    async def reserve(self, amount: float) -> Reservation:
        """Hold ``amount`` against both limits.

        Raises:
            BudgetExhausted: the day's or the month's limit would be exceeded.
        """
        day_key, month_key = self._keys()
        micros = max(1, round(amount * _MICRO))
        result: Any = await self._reserve(
            keys=[day_key, month_key],
            args=[micros, round(self._daily * _MICRO), round(self._monthly * _MICRO)],
        )
        refused, spent = int(result[0]), int(result[1])
        if refused:
            period, limit = ("daily", self._daily) if refused == 1 else ("monthly", self._monthly)
            raise BudgetExhausted(self._model, period=period, spent=spent / _MICRO, limit=limit)
        return Reservation(day_key=day_key, month_key=month_key, micros=micros)

    async def settle(self, reservation: Reservation, actual: float) -> None:
        """Replace the reserved amount by what the call really cost (0 refunds it)."""
        delta = round(actual * _MICRO) - reservation.micros
        if delta == 0:
            return
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.incrby(reservation.day_key, delta)
            pipe.incrby(reservation.month_key, delta)
            await pipe.execute()

    async def spent(self) -> tuple[float, float]:
        """What today and this month have cost so far."""
        raw: Any = await self._redis.mget(list(self._keys()))
        return tuple(int(v or 0) / _MICRO for v in raw)  # type: ignore[return-value]
