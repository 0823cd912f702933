"""The drift alarm: each day's model scores per tenant and category, compared with the days
before by the population stability index (PSI).

The worker's commit adds every message it decides to its tenant's day hash
(:meth:`bot.keys.TenantKeys.scores`) in the same Lua step as the verdict, so a redelivered
message counts once. This module owns the hash's field names::

    messages                    messages decided that day
    <category>:<bin>            messages whose <category> score fell in bin 0..9 (ten equal
                                bins on [0, 1]; a fallback model's scores are left out)
    route:<category>:<route>    messages routed <route> with <category> as their verdict's
                                category ("none" when it had none: most allowed messages)

``PSI = Σ (a_i − e_i) · ln(a_i / e_i)`` over the bins, ``a_i`` the share of today's scores in
bin ``i`` and ``e_i`` the reference window's (the :data:`REFERENCE_DAYS` UTC days before
today); a share below :data:`FLOOR` counts as :data:`FLOOR`, so an empty bin does not make it
infinite. The conventional reading: below 0.1 steady, 0.1 to 0.25 watch, 0.25 or more
drifted. A category is compared only when both today and the reference hold at least
``min_messages`` scores: on fewer, sampling noise alone reaches the watch band.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal

import redis.asyncio as aioredis
from prometheus_client import Gauge
from pydantic import BaseModel, ConfigDict, Field

from bot.keys import Streams
from bot.stats import day_of
from bot.tenant import Tenant
from bot.verdict import Route, Verdict

__all__ = [
    "BINS",
    "DRIFTED",
    "MIN_MESSAGES",
    "REFERENCE_DAYS",
    "TTL_S",
    "WATCH",
    "CategoryDrift",
    "DriftBook",
    "DriftReport",
    "DriftWatch",
    "compare",
    "psi",
    "score_counters",
]

BINS = 10
FLOOR = 1e-4
WATCH = 0.1
DRIFTED = 0.25
REFERENCE_DAYS = 7
MIN_MESSAGES = 500
TTL_S = 35 * 86400
"""How long one day's hash is kept: the longest reference window that can be read."""

_MESSAGES = "messages"
State = Literal["drifted", "watch", "steady", "too_few"]


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def score_bin(score: float) -> int:
    """The bin of a score in [0, 1] (1.0 falls in the last)."""
    return min(BINS - 1, max(0, int(score * BINS)))


def score_counters(verdict: Verdict) -> dict[str, int]:
    """What one decided message adds to its tenant's day hash."""
    counts = {_MESSAGES: 1, f"route:{verdict.category or 'none'}:{verdict.route.value}": 1}
    found = verdict.classification
    if found is not None and not found.degraded:
        for category, score in found.scores.items():
            counts[f"{category}:{score_bin(score)}"] = 1
    return counts


def psi(actual: Sequence[int], expected: Sequence[int]) -> float:
    """The population stability index of two histograms over the same bins.

    Raises:
        ValueError: either is empty or they differ in length.
    """
    if len(actual) != len(expected) or not sum(actual) or not sum(expected):
        raise ValueError("PSI needs two non-empty histograms over the same bins")
    n_a, n_e = sum(actual), sum(expected)
    total = 0.0
    for a, e in zip(actual, expected, strict=True):
        pa, pe = max(a / n_a, FLOOR), max(e / n_e, FLOOR)
        total += (pa - pe) * math.log(pa / pe)
    return total


class _Day:
    """A day hash (or a window's sum of them) sorted into histograms and route counts."""

    def __init__(self, counts: Mapping[str, float]) -> None:
        self.messages = int(counts.get(_MESSAGES, 0))
        self.bins: dict[str, list[int]] = {}
        self.routes: dict[str, dict[str, int]] = {}
        for name, value in counts.items():
            parts = name.split(":")
            if len(parts) == 3 and parts[0] == "route":
                self.routes.setdefault(parts[1], {})[parts[2]] = int(value)
            elif len(parts) == 2 and parts[1].isdigit() and int(parts[1]) < BINS:
                self.bins.setdefault(parts[0], [0] * BINS)[int(parts[1])] += int(value)

    def histogram(self, category: str) -> list[int]:
        return self.bins.get(category, [0] * BINS)

    def shares(self, category: str) -> dict[str, float]:
        """Each route's share of the day's messages under this category (allow left out)."""
        routes = self.routes.get(category, {})
        return {
            r.value: routes.get(r.value, 0) / self.messages if self.messages else 0.0
            for r in Route
            if r is not Route.ALLOW
        }


def _mean(histogram: Sequence[int]) -> float | None:
    """The mean score, each score taken at the middle of its bin."""
    n = sum(histogram)
    if not n:
        return None
    return sum((i + 0.5) / BINS * c for i, c in enumerate(histogram)) / n


class CategoryDrift(BaseModel):
    """One category's scores today against the reference window."""

    model_config = ConfigDict(frozen=True)

    category: str
    state: State = Field(description="drifted (PSI >= 0.25), watch (>= 0.1), steady, too_few")
    psi: float | None = Field(description="None when either side has too few scores")
    today: int = Field(description="messages scored for this category today")
    reference: int = Field(description="... over the reference window")
    mean_today: float | None = Field(description="mean score (bin middles)")
    mean_reference: float | None
    routes_today: dict[str, float] = Field(
        description="share of today's messages sent to review, escalate, act under it"
    )
    routes_reference: dict[str, float]

    def line(self, reference: str) -> str:
        """For ``/mod stats``: 'toxicity scores drifted (PSI 0.62): ...'."""
        word = "drifted" if self.state == "drifted" else "shifting (watch)"
        mean = ""
        if self.mean_today is not None and self.mean_reference is not None:
            mean = f"mean score {self.mean_reference:.2f} → {self.mean_today:.2f}"
        moved = [
            f"{route} {self.routes_reference.get(route, 0.0):.1%} → {share:.1%}"
            for route, share in self.routes_today.items()
            if share or self.routes_reference.get(route, 0.0)
        ]
        detail = "; ".join(x for x in (mean, ", ".join(moved)) if x)
        return (
            f"{self.category} scores {word} (PSI {self.psi or 0.0:.2f}): {detail}, "
            f"today against {reference}"
        )


class DriftReport(BaseModel):
    """A tenant's categories today against the reference window."""

    model_config = ConfigDict(frozen=True)

    tenant: str
    day: date
    reference_since: date
    reference_until: date
    min_messages: int
    categories: tuple[CategoryDrift, ...]

    @property
    def reference(self) -> str:
        return f"{self.reference_since.isoformat()} to {self.reference_until.isoformat()} (UTC)"

    def alarms(self) -> list[CategoryDrift]:
        """Drifted categories first, then those to watch; steady ones are left out."""
        order = {"drifted": 0, "watch": 1}
        found = [c for c in self.categories if c.state in order]
        return sorted(found, key=lambda c: (order[c.state], -(c.psi or 0.0)))

    def lines(self) -> list[str]:
        return [c.line(self.reference) for c in self.alarms()]


def _state(value: float | None) -> State:
    if value is None:
        return "too_few"
    return "drifted" if value >= DRIFTED else "watch" if value >= WATCH else "steady"


def compare(
    today: Mapping[str, float], reference: Mapping[str, float], *, min_messages: int
) -> tuple[CategoryDrift, ...]:
    """Every category scored on either side, by name. Pure."""
    now, before = _Day(today), _Day(reference)
    out = []
    for category in sorted(set(now.bins) | set(before.bins)):
        a, e = now.histogram(category), before.histogram(category)
        enough = sum(a) >= max(1, min_messages) and sum(e) >= max(1, min_messages)
        value = round(psi(a, e), 4) if enough else None
        out.append(
            CategoryDrift(
                category=category,
                state=_state(value),
                psi=value,
                today=sum(a),
                reference=sum(e),
                mean_today=_mean(a),
                mean_reference=_mean(e),
                routes_today=now.shares(category),
                routes_reference=before.shares(category),
            )
        )
    return tuple(out)


def _now() -> datetime:
    return datetime.now(UTC)


class DriftBook:
    """Reads tenants' day hashes and compares today with the reference window."""

    def __init__(
        self,
        *,
        redis: aioredis.Redis,
        streams: Streams,
        reference_days: int = REFERENCE_DAYS,
        min_messages: int = MIN_MESSAGES,
    ) -> None:
        if not 1 <= reference_days <= TTL_S // 86400 - 1:
            raise ValueError(f"a reference window is 1 to {TTL_S // 86400 - 1} days")
        self._redis = redis
        self._streams = streams
        self.reference_days = reference_days
        self.min_messages = min_messages

    async def reports(self, tenants: Sequence[Tenant], *, now: datetime) -> list[DriftReport]:
        """One report per tenant, read in one round trip."""
        today = day_of(now)
        days = [today - timedelta(days=back) for back in range(self.reference_days + 1)]
        async with self._redis.pipeline(transaction=False) as pipe:
            for tenant in tenants:
                keys = self._streams.tenant(tenant)
                for day in days:
                    pipe.hgetall(keys.scores(day))
            raw: list[Any] = await pipe.execute() if tenants else []
        out = []
        for i, tenant in enumerate(tenants):
            hashes = raw[i * len(days) : (i + 1) * len(days)]
            current = {_text(k): float(_text(v)) for k, v in hashes[0].items()}
            window: dict[str, float] = {}
            for bucket in hashes[1:]:
                for k, v in bucket.items():
                    window[_text(k)] = window.get(_text(k), 0.0) + float(_text(v))
            out.append(
                DriftReport(
                    tenant=str(tenant),
                    day=today,
                    reference_since=days[-1],
                    reference_until=days[1],
                    min_messages=self.min_messages,
                    categories=compare(current, window, min_messages=self.min_messages),
                )
            )
        return out

    async def report(self, tenant: Tenant, *, now: datetime) -> DriftReport:
        [found] = await self.reports([tenant], now=now)
        return found


class DriftWatch:
    """Keeps the ``modtriage_score_drift_psi{category}`` gauge current for a worker: per
    category, the highest PSI among the tenants it has decided messages for (the gauge has no
    tenant label: tenants are not bounded; ``/mod stats`` names the tenant's own)."""

    def __init__(
        self,
        *,
        book: DriftBook,
        gauge: Gauge,
        every_s: float = 60.0,
        clock: Callable[[], datetime] = _now,
    ) -> None:
        self._book = book
        self._gauge = gauge
        self._every_s = every_s
        self._clock = clock
        self._tenants: dict[Tenant, None] = {}
        self._shown: set[str] = set()
        self._last = -math.inf

    def saw(self, tenants: Iterable[Tenant]) -> None:
        """Tenants the worker committed messages for (watched from then on)."""
        self._tenants.update(dict.fromkeys(tenants))

    async def maybe_refresh(self) -> None:
        if time.monotonic() - self._last >= self._every_s and self._tenants:
            await self.refresh()

    async def refresh(self) -> dict[str, float]:
        """Read the watched tenants and set the gauge; returns what it set. A category no
        tenant has enough scores for is removed from the gauge (unknown, not zero)."""
        self._last = time.monotonic()
        worst: dict[str, float] = {}
        for report in await self._book.reports(list(self._tenants), now=self._clock()):
            for found in report.categories:
                if found.psi is not None:
                    worst[found.category] = max(found.psi, worst.get(found.category, 0.0))
        for category, value in worst.items():
            self._gauge.labels(category=category).set(value)
        for gone in self._shown - set(worst):
            self._gauge.remove(gone)
        self._shown = set(worst)
        return worst
