"""The insights desk: what shadow mode would have done, and whether the model's scores drift.
Each reads the actor's own tenant only, for its moderators."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import Any

from bot.case import Case, CaseStatus
from bot.errors import InvalidRequest
from bot.insights.drift import DriftReport
from bot.insights.shadow_report import ShadowReport, shadow_report
from bot.review.actor import Actor
from bot.review.core import ServiceCore
from bot.stats import MAX_DAYS, day_of

__all__ = ["InsightsDesk"]

_LOAD = 500  # cases loaded per round trip


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class InsightsDesk(ServiceCore):
    async def shadow_report(self, actor: Actor, *, days: int = 7) -> ShadowReport:
        """What shadow mode would have done in the actor's tenant over the last ``days`` UTC
        days, today included: the cases it opened by category, route and held-back action,
        the moderators' agreement on those they decided, and up to ten examples.

        Raises:
            PermissionDenied: the actor is not a moderator.
            InvalidRequest: ``days`` is outside 1..MAX_DAYS.
        """
        tenant = await self._require_moderator(actor, "see the shadow report")
        if not 1 <= days <= MAX_DAYS:
            raise InvalidRequest(f"a report covers 1 to {MAX_DAYS} days, not {days}")
        until = day_of(self._clock())
        since = until - timedelta(days=days - 1)
        start = datetime.combine(since, time(), tzinfo=UTC).timestamp()
        keys = self.keys.tenant(tenant)
        # every case of the tenant sits in one status index, scored by its opening time
        async with self._redis.pipeline(transaction=False) as pipe:
            for status in CaseStatus:
                pipe.zrangebyscore(keys.status(status.value), start, "+inf")
            found: list[Any] = await pipe.execute()
        ids = sorted({_text(i) for ids in found for i in ids}, key=lambda i: (len(i), i))
        cases: list[Case] = []
        for i in range(0, len(ids), _LOAD):
            cases += await self.store.load_many(ids[i : i + _LOAD], tenant)
        return shadow_report(cases, tenant=str(tenant), days=days, since=since, until=until)

    async def score_drift(self, actor: Actor) -> DriftReport:
        """The actor's tenant's model scores today against the days before, per category
        (:mod:`bot.insights.drift`): what ``/mod stats`` warns about.

        Raises:
            PermissionDenied: the actor is not a moderator.
        """
        tenant = await self._require_moderator(actor, "see stats")
        return await self._drift.report(tenant, now=self._clock())
