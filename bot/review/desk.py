"""The review desk: the queue, cases, history and strikes, claims, decisions and appeals.

Everything here is scoped to one tenant: the queue, history and strikes are the actor's own
tenant's, and a case can be claimed or decided only by a moderator of the case's tenant.
"""

from __future__ import annotations

from datetime import datetime

import structlog

from bot.action import Action
from bot.case import Case, CaseEvent, CaseStatus
from bot.errors import CaseConflict, CaseNotFound, InvalidRequest
from bot.review.actor import Actor
from bot.review.core import ServiceCore
from bot.review.decision import Decision
from bot.review.notices import ActionFactory
from bot.review.planning import SYSTEM
from bot.review.store import Applied, Change
from bot.stats import Counter
from bot.tenant import Tenant
from bot.verdict import Route

__all__ = ["ReviewDesk"]

log = structlog.get_logger(__name__)

_MAX_APPEAL_CHARS = 2000


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class ReviewDesk(ServiceCore):
    # -- reading --------------------------------------------------------------------------

    async def queue(self, actor: Actor, *, limit: int = 10) -> list[Case]:
        """Open and appealed cases of the actor's tenant waiting for review, oldest first."""
        tenant = await self._require_moderator(actor, "see the review queue")
        ids = await self.store.ids(self.keys.tenant(tenant).queue, limit=limit)
        return await self.store.load_many(ids, tenant)

    async def case(self, actor: Actor, case_id: str) -> Case:
        """A moderator sees the cases of their tenant; a member those about their own
        messages. Anyone else is told there is no such case."""
        case = await self.store.load(case_id, actor.tenant)
        if not await self.is_moderator(actor, Tenant.of(case.message)) and not self._is_author(
            actor, case
        ):
            raise CaseNotFound(case_id)
        return case

    async def history(self, actor: Actor, user_id: str, *, limit: int = 20) -> list[Case]:
        """A member's cases in the actor's workspace, newest first."""
        if actor.user_id != user_id:
            await self._require_moderator(actor, "see another member's history")
        key = self.keys.tenant(actor.tenant).user(user_id)
        ids = await self.store.ids(key, limit=limit, newest_first=True)
        return await self.store.load_many(ids, actor.tenant)

    async def channel_cases(self, actor: Actor, channel: str, *, limit: int = 20) -> list[Case]:
        """Cases about messages in one channel of the actor's workspace, newest first."""
        tenant = await self._require_moderator(actor, "see a channel's cases")
        key = self.keys.tenant(tenant).channel(channel)
        ids = await self.store.ids(key, limit=limit, newest_first=True)
        return await self.store.load_many(ids, tenant)

    async def strikes(self, actor: Actor, user_id: str) -> int:
        """The member's strike points inside the policy's window."""
        if actor.user_id != user_id:
            await self._require_moderator(actor, "see another member's strikes")
        tenant = actor.tenant
        keys = self.keys.tenant(tenant)
        cutoff = self._clock().timestamp() - self.policy_for(tenant).strikes.window
        members = [
            _text(m) for m in await self._redis.zrangebyscore(keys.strikes(user_id), cutoff, "+inf")
        ]
        if not members:
            return 0
        values = await self._redis.hmget(keys.strike_points(user_id), members)
        return sum(int(_text(v)) for v in values if v is not None)

    # -- claiming and deciding ------------------------------------------------------------

    def _claimed_by_other(self, case: Case, actor: Actor, now: datetime) -> bool:
        return (
            case.claimed_by is not None
            and case.claimed_by != actor.label()
            and case.claimed_at is not None
            and now - case.claimed_at < self._claim_ttl
        )

    async def claim(self, actor: Actor, case_id: str) -> Case:
        """Take a case; a second moderator gets CaseConflict until the claim expires.

        Raises:
            CaseNotFound: no such case in the actor's tenant.
            PermissionDenied: the actor does not moderate it.
        """
        case = await self.store.load(case_id, actor.tenant)
        await self._require_case(actor, case, "claim cases")
        now = self._clock()
        planner = self._planner(actor.tenant)
        if not case.awaiting_review:
            raise CaseConflict(case_id, planner.closed_reason(case))
        if self._claimed_by_other(case, actor, now):
            raise CaseConflict(case_id, f"already claimed by {case.claimed_by}")
        if case.claimed_by == actor.label():
            return case
        updated = case.model_copy(
            update={"claimed_by": actor.label(), "claimed_at": now, "version": case.version + 1}
        )
        event = CaseEvent(at=now, actor=actor.label(), kind="claimed")
        await self._commit(case, Change.of(case, updated, events=(event,)))
        return await self.store.load(case_id, actor.tenant)

    async def decide(
        self, actor: Actor, case_id: str, decision: Decision
    ) -> tuple[Case, list[Action]]:
        """Record the decision, publish the actions it calls for, and return them.

        Raises:
            CaseNotFound: no such case in the actor's tenant.
            PermissionDenied: the actor does not moderate the case's tenant.
            CaseConflict: claimed by another moderator, already decided, closed, or the
                decision does not apply to the case's status.
            InvalidRequest: an unknown category, or a sanction on a case with no category.
        """
        case = await self.store.load(case_id, actor.tenant)
        await self._require_case(actor, case, "decide cases")
        now = self._clock()
        policy = self.policy_for(actor.tenant)
        if decision.category is not None and decision.category not in policy.categories:
            known = ", ".join(policy.categories)
            raise InvalidRequest(f"unknown category {decision.category!r}; use one of {known}")
        if self._claimed_by_other(case, actor, now):
            raise CaseConflict(case_id, f"claimed by {case.claimed_by}")
        change, actions = self._planner(actor.tenant).plan(case, actor, decision, now)
        await self._commit(case, change)
        return await self.store.load(case_id, actor.tenant), actions

    # -- appeals --------------------------------------------------------------------------

    async def appeal(self, member: Actor, case_id: str, text: str) -> Case:
        """The member whose message a case concerns appeals; it lands in the queue.

        Raises:
            CaseNotFound: no such case (or it is not about the member's message).
            InvalidRequest: the appeal is empty or too long.
            CaseConflict: nothing to appeal (open, dismissed), already appealed, or closed.
        """
        case = await self.store.load(case_id, member.tenant)
        if not self._is_author(member, case):
            raise CaseNotFound(case_id)
        text = text.strip()
        if not text:
            raise InvalidRequest("say why the decision was wrong: the appeal text is empty")
        if len(text) > _MAX_APPEAL_CHARS:
            raise InvalidRequest(f"an appeal is at most {_MAX_APPEAL_CHARS} characters")
        planner = self._planner(member.tenant)
        if case.status is CaseStatus.APPEALED:
            raise CaseConflict(case_id, "already appealed; a moderator will look at it")
        if case.status is CaseStatus.OPEN:
            raise CaseConflict(
                case_id, "no action was taken on this case; it is waiting for a moderator"
            )
        if case.status is not CaseStatus.ACTIONED:
            raise CaseConflict(case_id, planner.closed_reason(case))
        if case.appeal is not None:
            raise CaseConflict(case_id, "the appeal on this case was already decided (upheld)")
        now = self._clock()
        updated = case.model_copy(
            update={
                "status": CaseStatus.APPEALED,
                "appeal": text,
                "claimed_by": None,
                "claimed_at": None,
                "version": case.version + 1,
            }
        )
        factory = ActionFactory(case=updated, policy=self.policy_for(member.tenant))
        rejudged = await self._rejudge(case)
        notify = factory.notify_moderators(
            f"{updated.version}-appeal",
            f"{rejudged}Appeal on case {case.id} by {member.label()}: {text[:500]}\n"
            f"Original decision: {case.decision or case.verdict.route.value} "
            f"({case.verdict.explain()})",
            reason=f"appeal by {member.label()}",
        )
        await self._commit(
            case,
            Change.of(
                case,
                updated,
                queue="add",
                queue_score=now.timestamp(),
                events=(
                    CaseEvent(at=now, actor=member.label(), kind="appealed", detail=text),
                    *(
                        (CaseEvent(at=now, actor=SYSTEM, kind="rejudged", detail=rejudged.strip()),)
                        if rejudged
                        else ()
                    ),
                ),
                records=(planner.record(notify, member, now),),
                actions=(notify,),
                stats={Counter.APPEALS: 1.0},
            ),
        )
        return await self.store.load(case_id, member.tenant)

    async def _rejudge(self, case: Case) -> str:
        """The appealed message judged again by the same engine under the tenant's current
        policy and model: a line for the moderators ('' when it cannot be judged now)."""
        message = case.message
        try:
            judge = await self.judge_for(Tenant.of(message))
            [judged] = await judge.judge([message])
        except Exception as exc:  # noqa: BLE001 - an appeal must land even if this fails
            log.warning("appeal not re-judged", case_id=case.id, error=repr(exc))
            return ""
        verdict = judged.verdict
        if verdict is None:
            return ""
        if verdict.route is Route.ALLOW:
            return (
                f"Judged again under policy {verdict.policy_version}: it would now be ALLOWED "
                "(no rule or model score reaches review).\n"
            )
        return (
            f"Judged again under policy {verdict.policy_version}: still "
            f"{verdict.route.value} ({verdict.explain()}).\n"
        )

    async def _commit(self, before: Case, change: Change) -> Applied:
        """Apply a change; a concurrent change to the same case loses with CaseConflict."""
        applied = await self.store.apply(change)
        if applied.outcome == "applied":
            return applied
        if applied.outcome == "missing":
            raise CaseNotFound(before.id)
        current = await self.store.load(before.id, Tenant.of(before.message))
        planner = self._planner(Tenant.of(before.message))
        if current.status is not before.status or current.decided_by != before.decided_by:
            raise CaseConflict(before.id, planner.closed_reason(current))
        if current.claimed_by is not None and current.claimed_by != before.claimed_by:
            raise CaseConflict(before.id, f"claimed by {current.claimed_by}")
        raise CaseConflict(before.id, "changed while you were deciding; look again")
