"""The service's intake: what the pipeline and the action dispatcher need.

Cases opened from verdicts and from members' reports, what became of each action, and whether
shadow mode silences an automatic action. Every case belongs to the tenant of its message.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from bot.action import Action, OpenCase, TimeoutUser, action_id
from bot.case import Case, CaseAction, CaseEvent, CaseStatus
from bot.errors import CaseNotFound, PermissionDenied
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
    async def open_case(self, action: OpenCase, message: Message, verdict: Verdict) -> Case:
        """Record the case an OpenCase action asks for (idempotent on the action id).

        The worker numbered the case in its commit (``action.case_id``): a repeat of an
        incident already open joins that case as a ``repeat`` event, adding no strike. Else a
        verdict that acted opens an *actioned* case and adds the category's strike points; one
        in the review band, or in shadow mode, waits in the queue.
        """
        token = action.id
        found = await self.store.existing(token)
        if found is not None:
            return await self.store.load(found)
        now = self._clock()
        if action.case_id is not None:
            joined = await self._join(action, message, verdict, now)
            if joined is not None:
                return joined
        tenant = Tenant.of(message)
        category = verdict.category or action.category
        shadow = verdict.shadow or await self._shadow.on(tenant, message.channel, category)
        acted = verdict.route is Route.ACT and not shadow
        escalated = await self._escalations.load(message.key)
        case = Case(
            id=action.case_id or await self.store.next_id(),
            message=message,
            verdict=verdict,
            status=CaseStatus.ACTIONED if acted else CaseStatus.OPEN,
            opened_at=now,
            category=category,
            shadow=shadow,
            version=1,
            escalation=escalated.for_case() if escalated else None,
        )
        records = await self._automatic_records(case, now)
        detail = f"route {verdict.route.value} by {verdict.stage}"
        if verdict.model:
            detail += f" ({verdict.model})"
        detail += f": {verdict.explain()}"
        events = [CaseEvent(at=now, actor=SYSTEM, kind="opened", detail=detail)]
        if shadow:
            would = ", ".join(r.type for r in records) or "nothing"
            events.append(
                CaseEvent(at=now, actor=SYSTEM, kind="shadow", detail=f"shadow mode: would {would}")
            )
        elif acted:
            done = ", ".join(f"{r.type} ({r.state})" for r in records) or "nothing"
            events.append(CaseEvent(at=now, actor=SYSTEM, kind="actioned", detail=done))
        stats = {
            Counter.CASES_OPENED: 1.0,
            Counter.route(verdict.route.value): 1.0,
            Counter.category(category): 1.0,
        }
        if shadow:
            stats[Counter.CASES_SHADOW] = 1.0
        for record in records:
            stats[Counter.action(record.type)] = stats.get(Counter.action(record.type), 0.0) + 1
        strike = None
        planner = self._planner(tenant)
        if acted and category is not None:
            points = planner.points(category)
            if points:
                case = case.model_copy(update={"strike_points": points})
                warned = any(r.type == "warn" for r in records)
                strike = planner.strike_add(case, points, now, warned=warned)
                events.append(
                    CaseEvent(at=now, actor=SYSTEM, kind="strike", detail=f"+{points} points")
                )
        applied = await self.store.apply(
            Change(
                case=case,
                create_token=token,
                queue="" if acted else "add",
                queue_score=now.timestamp(),
                events=tuple(events),
                records=tuple(records),
                stats=stats,
                strike=strike,
            )
        )
        if applied.outcome == "exists" and applied.case_id == case.id:
            # another dispatcher opened the incident's case first: this message joins it
            return await self._join(action, message, verdict, now) or await self.store.load(case.id)
        return await self.store.load(applied.case_id)

    async def _join(
        self, action: OpenCase, message: Message, verdict: Verdict, now: datetime
    ) -> Case | None:
        """Add a repeat to the incident's open case; None when that case is not recorded yet."""
        assert action.case_id is not None
        try:
            case = await self.store.load(action.case_id)
        except CaseNotFound:
            return None
        if case.message.key == message.key:
            return case
        detail = f"message {message.id}: route {verdict.route.value} by {verdict.stage}"
        detail += f": {verdict.explain()}"
        await self.store.append(
            case.id, events=[CaseEvent(at=now, actor=SYSTEM, kind="repeat", detail=detail)]
        )
        await self.store.claim_token(action.id, case.id)
        return await self.store.load(case.id)

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
        found = await self.store.existing(token)
        if found is not None:
            await self.store.append(
                found,
                events=[CaseEvent(at=now, actor=reporter.label(), kind="reported", detail=detail)],
            )
            return await self.store.load(found)
        verdict = Verdict(
            message_key=message.key,
            route=Route.REVIEW,
            stage="report",
            policy_version=self.policy_for(reporter.tenant).version,
            decided_at=now,
        )
        escalated = await self._escalations.load(message.key)
        case = Case(
            id=await self.store.next_id(),
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
        return await self.store.load(applied.case_id)

    async def _automatic_records(self, case: Case, now: datetime) -> list[CaseAction]:
        """What the pipeline did about the message, read back from the verdict and the
        dispatcher's done marks (the OpenCase action comes after the others on the stream)."""
        verdict = case.verdict
        category = case.category
        policy = self.policy_for(Tenant.of(case.message))
        if verdict.route is not Route.ACT or category not in policy.categories:
            return []
        rule = verdict.evidence[0].rule if verdict.evidence else ""
        spec = policy.categories[category]
        records = []
        for kind in spec.on_act:
            if kind == "open_case":
                continue
            aid = action_id(case.message.key, kind, rule)
            if case.shadow:
                state: Literal["emitted", "performed", "shadow"] = "shadow"
            elif aid not in verdict.action_ids:
                continue
            elif await self._redis.exists(self._streams.done(aid)):
                state = "performed"
            else:
                state = "emitted"
            records.append(
                CaseAction(
                    id=aid,
                    type=kind,
                    by=SYSTEM,
                    at=now,
                    state=state,
                    duration_s=spec.timeout if kind == "timeout" else None,
                )
            )
        return records

    async def record_outcome(
        self,
        action: Action,
        state: Literal["performed", "failed", "shadow"],
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
        await self.store.append(case_id, records=[record], events=events)

    async def shadowed(self, action: Action) -> bool:
        """Whether the dispatcher must skip an automatic action because shadow mode is on in
        its tenant. Moderators' own decisions (ids starting ``case-``) are never silenced."""
        return await self._shadow.silences(action)
