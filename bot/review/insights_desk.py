"""The insights desk: whether the model's scores drift. It reads the actor's own tenant only,
for its moderators."""

from __future__ import annotations

from bot.insights.drift import DriftReport
from bot.review.actor import Actor
from bot.review.core import ServiceCore

__all__ = ["InsightsDesk"]


class InsightsDesk(ServiceCore):
    async def score_drift(self, actor: Actor) -> DriftReport:
        """The actor's tenant's model scores today against the days before, per category
        (:mod:`bot.insights.drift`): what ``/mod stats`` warns about.

        Raises:
            PermissionDenied: the actor is not a moderator.
        """
        tenant = await self._require_moderator(actor, "see stats")
        return await self._drift.report(tenant, now=self._clock())
