"""Moderation stats: the counter names, their Redis layout, and the typed read over a window.

Every writer counts through this module: the names below are the only field names of a
tenant's stats hashes. Counters are bucketed per tenant per UTC day
(:meth:`bot.keys.TenantKeys.stats`), each bucket kept :data:`BUCKET_TTL_S` seconds, so a
window of days is the sum of that many buckets and old days fall away on their own.
The worker's and the case store's Lua scripts increment the day's bucket they are given,
with names taken from here.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta
from typing import Any

import redis.asyncio as aioredis
from pydantic import BaseModel, ConfigDict

from bot.keys import Streams
from bot.tenant import Tenant

__all__ = [
    "BUCKET_TTL_S",
    "MAX_DAYS",
    "Counter",
    "Stats",
    "StatsBook",
    "day_of",
]

BUCKET_TTL_S = 400 * 86400
"""How long one day's bucket is kept."""

MAX_DAYS = 400
"""The longest window that can be read (older buckets have expired)."""


def day_of(when: datetime) -> date:
    """The UTC day a moment falls in (naive times are taken as UTC)."""
    aware = when if when.tzinfo is not None else when.replace(tzinfo=UTC)
    return aware.astimezone(UTC).date()


class Counter:
    """The field names of a stats bucket. Plain names are counts; ``<group>:<kind>`` names
    count one kind of a group (a route, an action type, a category...)."""

    MESSAGES_DECIDED = "messages_decided"
    CASES_OPENED = "cases_opened"
    CASES_SHADOW = "cases_shadow"
    CASES_OVERTURNED = "cases_overturned"
    ACTIONS_FAILED = "actions_failed"
    DECISIONS = "decisions"
    DECISION_SECONDS = "decision_seconds_total"
    REVIEWED = "reviewed"
    AGREED = "agreed"
    APPEALS = "appeals"
    STRIKE_SANCTIONS = "strike_sanctions"
    ESCALATED = "escalated"
    FAQ_ANSWERED = "faq_answered"

    @staticmethod
    def route(kind: str) -> str:
        return f"route:{kind}"

    @staticmethod
    def category(name: str | None) -> str:
        return f"category:{name or 'none'}"

    @staticmethod
    def action(kind: str) -> str:
        return f"actions:{kind}"

    @staticmethod
    def decided(kind: str) -> str:
        return f"decided:{kind}"

    @staticmethod
    def escalated(outcome: str) -> str:
        return f"escalated:{outcome}"

    @staticmethod
    def faq(entry: str) -> str:
        """Answers given from one FAQ entry."""
        return f"faq:{entry}"

    @staticmethod
    def cost(currency: str) -> str:
        return f"cost:{currency.lower()}"


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


_SCALARS = {
    Counter.MESSAGES_DECIDED: "messages_decided",
    Counter.CASES_OPENED: "cases_opened",
    Counter.CASES_SHADOW: "cases_shadow",
    Counter.CASES_OVERTURNED: "cases_overturned",
    Counter.ACTIONS_FAILED: "actions_failed",
    Counter.DECISIONS: "decisions",
    Counter.DECISION_SECONDS: "decision_seconds_total",
    Counter.REVIEWED: "reviewed",
    Counter.AGREED: "agreed",
    Counter.APPEALS: "appeals",
    Counter.STRIKE_SANCTIONS: "strike_sanctions",
    Counter.ESCALATED: "escalated",
    Counter.FAQ_ANSWERED: "faq_answered",
}
_GROUPS = {
    "route": "routes",
    "category": "categories",
    "actions": "actions",
    "decided": "decided",
    "escalated": "escalations",
    "cost": "cost",
    "faq": "faq_answers",
}


class Stats(BaseModel):
    """A tenant's numbers over a window of UTC days, ``since`` to ``until`` inclusive, with
    the review state as it is now (queue, cases by status, labelled examples)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    days: int
    since: date
    until: date
    messages_decided: int = 0
    cases_opened: int = 0
    cases_shadow: int = 0
    cases_overturned: int = 0
    routes: dict[str, int] = {}
    categories: dict[str, int] = {}
    actions: dict[str, int] = {}
    actions_failed: int = 0
    decisions: int = 0
    decided: dict[str, int] = {}
    decision_seconds_total: float = 0.0
    reviewed: int = 0
    agreed: int = 0
    appeals: int = 0
    strike_sanctions: int = 0
    escalated: int = 0
    escalations: dict[str, int] = {}
    cost: dict[str, float] = {}
    faq_answered: int = 0
    faq_answers: dict[str, int] = {}
    queue: int = 0
    statuses: dict[str, int] = {}
    labelled_examples: int = 0

    @classmethod
    def of(cls, counts: Mapping[str, float], *, days: int, until: date, **now: Any) -> Stats:
        """Sort summed counters into fields; unknown names are refused loudly.

        Raises:
            ValueError: a counter name this module does not define.
        """
        fields: dict[str, Any] = {"days": days, "until": until}
        fields["since"] = until - timedelta(days=days - 1)
        groups: dict[str, dict[str, float]] = defaultdict(dict)
        for name, value in counts.items():
            if name in _SCALARS:
                fields[_SCALARS[name]] = value
                continue
            group, _, kind = name.partition(":")
            if group not in _GROUPS or not kind:
                raise ValueError(f"unknown stats counter {name!r}")
            groups[_GROUPS[group]][kind] = value
        for field, values in groups.items():
            fields[field] = dict(sorted(values.items()))
        return cls.model_validate({**fields, **now})

    @property
    def window(self) -> str:
        """The window in words, for replies."""
        plural = "day" if self.days == 1 else f"{self.days} days"
        return f"last {plural} ({self.since.isoformat()} to {self.until.isoformat()}, UTC)"

    @property
    def escalation_share(self) -> float:
        """Cases opened by the frontier model's route, out of all opened."""
        opened = self.cases_opened
        return self.routes.get("escalate", 0) / opened if opened else 0.0

    @property
    def reviewer_agreement(self) -> float:
        return self.agreed / self.reviewed if self.reviewed else 0.0

    @property
    def mean_seconds_to_decision(self) -> float:
        return self.decision_seconds_total / self.decisions if self.decisions else 0.0

    def numbers(self) -> dict[str, float]:
        """Every number by a flat name, sorted, for tables and JSON (``routes`` as
        ``route:<kind>``, ``statuses`` as ``status:<s>``...)."""
        flat: dict[str, float] = {}
        for name, field in _SCALARS.items():
            flat[name] = float(getattr(self, field))
        for group, field in _GROUPS.items():
            for kind, value in getattr(self, field).items():
                flat[f"{group}:{kind}"] = float(value)
        for status, count in self.statuses.items():
            flat[f"status:{status}"] = float(count)
        flat["queue"] = float(self.queue)
        flat["labelled_examples"] = float(self.labelled_examples)
        flat["escalation_share"] = self.escalation_share
        flat["reviewer_agreement"] = self.reviewer_agreement
        flat["mean_seconds_to_decision"] = self.mean_seconds_to_decision
        return dict(sorted(flat.items()))


class StatsBook:
    """Writes counters into a tenant's day bucket and sums a window of them."""

    def __init__(self, *, redis: aioredis.Redis, streams: Streams) -> None:
        self._redis = redis
        self._streams = streams

    def key(self, tenant: Tenant, when: datetime) -> str:
        """The bucket of the UTC day ``when`` falls in."""
        return self._streams.tenant(tenant).stats(day_of(when))

    def add_to(
        self, pipe: Any, tenant: Tenant, counts: Mapping[str, float], *, at: datetime
    ) -> None:
        """Queue the increments (and the bucket's expiry) on a caller's pipeline."""
        key = self.key(tenant, at)
        for name, value in counts.items():
            pipe.hincrbyfloat(key, name, float(value))
        pipe.expire(key, BUCKET_TTL_S)

    async def add(self, tenant: Tenant, counts: Mapping[str, float], *, at: datetime) -> None:
        async with self._redis.pipeline(transaction=True) as pipe:
            self.add_to(pipe, tenant, counts, at=at)
            await pipe.execute()

    async def window(self, tenant: Tenant, *, days: int, until: datetime) -> dict[str, float]:
        """The counters summed over ``days`` UTC days ending with ``until``'s.

        Raises:
            ValueError: ``days`` outside 1..MAX_DAYS.
        """
        if not 1 <= days <= MAX_DAYS:
            raise ValueError(f"a stats window is 1 to {MAX_DAYS} days, not {days}")
        last = day_of(until)
        keys = self._streams.tenant(tenant)
        async with self._redis.pipeline(transaction=False) as pipe:
            for back in range(days):
                pipe.hgetall(keys.stats(last - timedelta(days=back)))
            buckets: list[Any] = await pipe.execute()
        total: dict[str, float] = defaultdict(float)
        for bucket in buckets:
            for name, value in bucket.items():
                total[_text(name)] += float(_text(value))
        return dict(total)
