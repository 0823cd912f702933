"""The service's intake: what the action dispatcher and members' reports need.

Cases opened from members' reports, what became of each action, and whether shadow mode
silences an automatic action. Cases opened from verdicts are written by the worker's commit
(:mod:`bot.review.opening`). Every case belongs to the tenant of its message.
"""

from __future__ import annotations

from typing import Literal

from bot.action import Action, TimeoutUser
from bot.case import Case, CaseAction, CaseEvent
from bot.errors import PermissionDenied
from bot.message import Message
from bot.review.actor import Actor
from bot.review.core import ServiceCore
from bot.review.planning import SYSTEM
from bot.review.store import Change
from bot.stats import Counter
from bot.tenant import Tenant
from bot.verdict import Route, Verdict

__all__ = ["Intake"]


class Intake(ServiceCore):
    async def report(self, reporter: Actor, message: Message, note: str = "") -> Case:
        """A member reports a message of their own workspace: it lands in the queue (one case
        per message).

        Raises:
            PermissionDenied: the message belongs to another tenant.
        """
        if reporter.tenant != Tenant.of(message):
            raise PermissionDenied(reporter.label(), "report a message of another workspace")
        token = f"report:{message.key}"
        now = self._clock()
        detail = f"reported by {reporter.label()}" + (f": {note[:500]}" if note else "")
        found = await self.store.existing(token, reporter.tenant)
        if found is not None:
            await self.store.append(
                found,
                reporter.tenant,
                events=[CaseEvent(at=now, actor=reporter.label(), kind="reported", detail=detail)],
            )
            return await self.store.load(found, reporter.tenant)
        verdict = Verdict(
            message_key=message.key,
            route=Route.REVIEW,
            stage="report",
            policy_version=self.policy_for(reporter.tenant).version,
            decided_at=now,
        )
        escalated = await self._escalations.load(message.key)
        case = Case(
            id=await self.store.next_id(reporter.tenant),
            message=message,
            verdict=verdict,
            opened_at=now,
            source="report",
            version=1,
            escalation=escalated.for_case() if escalated else None,
        )
        applied = await self.store.apply(
            Change(
                case=case,
                create_token=token,
                queue="add",
                queue_score=now.timestamp(),
                events=(CaseEvent(at=now, actor=reporter.label(), kind="reported", detail=detail),),
                stats={
                    Counter.CASES_OPENED: 1.0,
                    Counter.route("report"): 1.0,
                    Counter.category(None): 1.0,
                },
            )
        )
        return await self.store.load(applied.case_id, reporter.tenant)

    async def record_outcome(
        self,
        action: Action,
        state: Literal["performed", "failed", "shadow", "unknown"],
        detail: str = "",
    ) -> None:
        """Note on the action's case that the adapter performed it, or could not."""
        case_id = action.case_id or await self.store.case_for_message(action.message_key)
        if case_id is None:
            return
        now = self._clock()
        record = CaseAction(
            id=action.id,
            type=action.type,
            by=SYSTEM,
            at=now,
            state=state,
            duration_s=action.duration_s if isinstance(action, TimeoutUser) else None,
            detail=detail,
        )
        events = []
        if state == "failed":
            events.append(
                CaseEvent(
                    at=now,
                    actor=SYSTEM,
                    kind="action_failed",
                    detail=f"{action.type} could not be done: {detail}",
                )
            )
            tenant = Tenant(platform=action.platform, workspace=action.workspace)
            await self._stats.add(tenant, {Counter.ACTIONS_FAILED: 1.0}, at=self._clock())
        tenant = Tenant(platform=action.platform, workspace=action.workspace)
        await self.store.append(case_id, tenant, records=[record], events=events)

    async def shadowed(self, action: Action) -> bool:
        """Whether the dispatcher must skip an automatic action because shadow mode is on in
        its tenant. Moderators' own decisions (ids starting ``case-``) are never silenced."""
        return await self._shadow.silences(action)
