"""What a moderator's decision does to a case: the new state, the actions, the strike, the
labelled example. Pure: no I/O; the service applies the resulting Change atomically."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from bot.action import Action, TimeoutUser
from bot.case import Case, CaseAction, CaseEvent, CaseStatus
from bot.errors import CaseConflict, InvalidRequest
from bot.notice_template import render
from bot.policy import Policy
from bot.review.actor import Actor
from bot.review.decision import Decision
from bot.review.notices import ActionFactory, human_duration
from bot.review.store import Change, StrikeChange, StrikeStepPlan
from bot.stats import Counter

__all__ = ["SYSTEM", "DecisionPlanner", "count_actions"]

SYSTEM = "modtriage"
_SANCTIONS = ("timeout", "kick", "ban")


def count_actions(actions: list[Action], stats: dict[str, float]) -> dict[str, float]:
    for action in actions:
        stats[Counter.action(action.type)] = stats.get(Counter.action(action.type), 0.0) + 1
    return stats


class DecisionPlanner:
    """Plans changes under one policy, at one moment."""

    def __init__(self, *, policy: Policy, now: datetime) -> None:
        self._policy = policy
        self._now = now

    def plan(
        self, case: Case, actor: Actor, decision: Decision, now: datetime
    ) -> tuple[Change, list[Action]]:
        kind = decision.kind
        status = case.status
        if status in (CaseStatus.DISMISSED, CaseStatus.OVERTURNED):
            raise CaseConflict(case.id, self.closed_reason(case))
        if kind == "overturn":
            if status not in (CaseStatus.ACTIONED, CaseStatus.APPEALED):
                raise CaseConflict(
                    case.id,
                    "nothing was done on this case yet, so nothing to overturn; "
                    "decide remove, warn, timeout, kick, ban or dismiss",
                )
            return self._plan_overturn(case, actor, decision, now)
        if status is CaseStatus.APPEALED:
            if kind != "uphold":
                raise CaseConflict(
                    case.id, "the member appealed: decide overturn (grant) or uphold (refuse)"
                )
            return self._plan_uphold(case, actor, decision, now)
        if kind == "uphold":
            raise CaseConflict(case.id, "there is no appeal to uphold")
        if kind == "dismiss":
            if status is CaseStatus.ACTIONED:
                raise CaseConflict(
                    case.id,
                    f"already actioned by {case.decided_by or SYSTEM}; decide overturn to undo it",
                )
            return self._plan_dismiss(case, actor, decision, now)
        return self._plan_action(case, actor, decision, now)

    def _base(
        self, case: Case, actor: Actor, decision: Decision, status: CaseStatus, now: datetime
    ) -> Case:
        return case.model_copy(
            update={
                "status": status,
                "decided_by": actor.label(),
                "decision": decision.kind,
                "category": decision.category or case.category,
                "claimed_by": None,
                "claimed_at": None,
                "version": case.version + 1,
            }
        )

    def _label(self, case: Case, actor: Actor, decision: Decision, flagged: bool) -> str:
        """A labelled example in the project's moderation data format."""
        category = decision.category or case.category
        verdict = case.verdict
        row = {
            "text": case.message.text,
            "labels": {category: int(flagged)} if category else {},
            "source": "review",
            "meta": {
                "case_id": case.id,
                "decision": decision.kind,
                "moderator": actor.label(),
                "route": verdict.route.value,
                "stage": verdict.stage,
                "model": verdict.model,
                "scores": verdict.classification.scores if verdict.classification else {},
                "bot_category": case.category,
                "policy_version": self._policy.version,
                "platform": case.message.platform,
                "at": self._now.isoformat(),
            },
        }
        return json.dumps(row, ensure_ascii=False)

    def _decided(
        self,
        case: Case,
        updated: Case,
        actor: Actor,
        decision: Decision,
        *,
        flagged: bool,
        **rest: Any,
    ) -> Change:
        """The change that closes a decision: out of the queue, with its labelled example."""
        label = self._label(case, actor, decision, flagged=flagged)
        return Change.of(case, updated, queue="rem", labels=(label,), **rest)

    def _decision_stats(
        self, case: Case, decision: Decision, agreed: bool | None, now: datetime
    ) -> dict[str, float]:
        stats = {Counter.decided(decision.kind): 1.0}
        if agreed is not None and case.source == "pipeline":
            stats[Counter.REVIEWED] = 1.0
            stats[Counter.AGREED] = 1.0 if agreed else 0.0
        waited = (now - case.opened_at).total_seconds()
        stats[Counter.DECISION_SECONDS] = max(0.0, waited)
        stats[Counter.DECISIONS] = 1.0
        return stats

    def _plan_dismiss(
        self, case: Case, actor: Actor, decision: Decision, now: datetime
    ) -> tuple[Change, list[Action]]:
        updated = self._base(case, actor, decision, CaseStatus.DISMISSED, now)
        detail = "dismissed: no violation" + decision.said(" ({reason})")
        change = self._decided(
            case,
            updated,
            actor,
            decision,
            flagged=False,
            events=(CaseEvent(at=now, actor=actor.label(), kind="decided", detail=detail),),
            stats=self._decision_stats(case, decision, agreed=False, now=now),
        )
        return change, []

    def _plan_action(
        self, case: Case, actor: Actor, decision: Decision, now: datetime
    ) -> tuple[Change, list[Action]]:
        category = decision.category or case.category
        if category is None:
            raise InvalidRequest(
                f"case {case.id} has no category: say which rule it breaks (category=...)"
            )
        first = case.status is CaseStatus.OPEN
        updated = self._base(case, actor, decision, CaseStatus.ACTIONED, now)
        factory = ActionFactory(case=updated, policy=self._policy)
        step = f"{updated.version}"
        reason = f"{category}: moderator {actor.label()}" + decision.said(": {reason}")
        actions: list[Action] = []
        skipped: list[CaseAction] = []
        already_deleted = any(
            r.type == "delete" and r.state in ("emitted", "performed") for r in case.actions
        )
        if decision.kind != "warn":
            if already_deleted:
                skipped.append(
                    CaseAction(
                        id=factory.delete(step, reason).id,
                        type="delete",
                        by=actor.label(),
                        at=now,
                        state="skipped",
                        detail="the message was already deleted",
                    )
                )
            else:
                actions.append(factory.delete(step, reason))
        duration = None
        if decision.kind == "timeout":
            spec = self._policy.categories[category]
            duration = decision.duration_s or spec.timeout or 3600
        what = {
            "remove": "your message was removed",
            "warn": "this is a warning",
            "timeout": f"you are timed out for {human_duration(duration or 3600)}",
            "kick": "you were removed from the community",
            "ban": "you are banned",
        }[decision.kind]
        template = self._policy.categories[category].notice if category else None
        if template is not None:
            text = render(
                template,
                rule=factory.rule_text(category),
                excerpt=case.message.text,
                action=what,
                duration=human_duration(duration) if duration else "",
                reason=decision.reason or "",
                appeal=f"You can appeal case {case.id}.",
            )
        else:
            text = (
                f"Case {case.id}: your message broke {factory.rule_text(category)}; a moderator "
                f"decided {what}."
                + decision.said(" Reason: {reason}")
                + f" You can appeal case {case.id}."
            )
        actions.append(factory.notice(step, text, reason))
        if decision.kind in _SANCTIONS:
            sanction = factory.sanction(step, decision.kind, reason, duration)
            if sanction is not None:
                actions.append(sanction)
        records = [*skipped, *(self.record(a, actor, now) for a in actions)]
        detail = f"{decision.kind}" + decision.said(" ({reason})")
        events = [CaseEvent(at=now, actor=actor.label(), kind="decided", detail=detail)]
        strike = None
        if first:
            points = self.points(category)
            if points:
                updated = updated.model_copy(update={"strike_points": points})
                strike = self.strike_add(updated, points, now)
                events.append(
                    CaseEvent(
                        at=now, actor=actor.label(), kind="strike", detail=f"+{points} points"
                    )
                )
        stats = self._decision_stats(case, decision, agreed=True if first else None, now=now)
        count_actions(actions, stats)
        change = self._decided(
            case,
            updated,
            actor,
            decision,
            flagged=True,
            events=tuple(events),
            records=tuple(records),
            actions=actions,
            stats=stats,
            strike=strike,
        )
        return change, actions

    def _plan_overturn(
        self, case: Case, actor: Actor, decision: Decision, now: datetime
    ) -> tuple[Change, list[Action]]:
        updated = self._base(case, actor, decision, CaseStatus.OVERTURNED, now)
        updated = updated.model_copy(update={"category": case.category, "strike_points": 0})
        factory = ActionFactory(case=updated, policy=self._policy)
        step = f"{updated.version}"
        reason = f"overturned by {actor.label()}" + decision.said(": {reason}")
        actions: list[Action] = []
        kept: list[str] = []
        live = [r for r in case.actions if r.state in ("emitted", "performed")]
        for sanction in ("timeout", "ban"):
            if any(r.type == sanction for r in live):
                actions.append(factory.lift(step, sanction, reason))
        for record in live:
            if record.type in ("delete", "kick", "warn") and record.type not in kept:
                kept.append(record.type)
        text = (
            f"Case {case.id} was overturned: a moderator found your message did not break the "
            "rules. Any timeout or ban from it is lifted and its strike points are removed."
            + decision.said(" Reason: {reason}")
        )
        actions.append(factory.notice(step, text, reason))
        undone = ", ".join(f"lift {a.sanction}" for a in actions if a.type == "lift") or "nothing"
        detail = f"overturned; undone: {undone}"
        if kept:
            detail += f"; cannot be undone on {case.message.platform}: {', '.join(kept)}"
        detail += decision.said(" ({reason})")
        events = [CaseEvent(at=now, actor=actor.label(), kind="overturned", detail=detail)]
        strike = None
        if case.strike_points:
            strike = StrikeChange(op="remove")
            events.append(
                CaseEvent(
                    at=now,
                    actor=actor.label(),
                    kind="strike",
                    detail=f"-{case.strike_points} points",
                )
            )
        stats = self._decision_stats(case, decision, agreed=False, now=now)
        stats[Counter.CASES_OVERTURNED] = 1.0
        count_actions(actions, stats)
        change = self._decided(
            case,
            updated,
            actor,
            decision,
            flagged=False,
            events=tuple(events),
            records=tuple(self.record(a, actor, now) for a in actions),
            actions=actions,
            stats=stats,
            strike=strike,
        )
        return change, actions

    def _plan_uphold(
        self, case: Case, actor: Actor, decision: Decision, now: datetime
    ) -> tuple[Change, list[Action]]:
        updated = self._base(case, actor, decision, CaseStatus.ACTIONED, now)
        factory = ActionFactory(case=updated, policy=self._policy)
        reason = f"appeal refused by {actor.label()}" + decision.said(": {reason}")
        text = (
            f"Case {case.id}: a moderator reviewed your appeal and the decision stands."
            + decision.said(" Reason: {reason}")
        )
        actions: list[Action] = [factory.notice(f"{updated.version}", text, reason)]
        change = self._decided(
            case,
            updated,
            actor,
            decision,
            flagged=True,
            events=(CaseEvent(at=now, actor=actor.label(), kind="upheld", detail=reason),),
            records=tuple(self.record(a, actor, now) for a in actions),
            actions=actions,
            stats=self._decision_stats(case, decision, agreed=True, now=now),
        )
        return change, actions

    def closed_reason(self, case: Case) -> str:
        by = f" by {case.decided_by}" if case.decided_by else ""
        if case.status is CaseStatus.ACTIONED:
            return f"already actioned{by}; decide overturn to undo it"
        return f"closed: already {case.status.value}{by}"

    def points(self, category: str) -> int:
        spec = self._policy.categories.get(category)
        if spec is None or spec.support:
            return 0
        return spec.strike_points

    def strike_add(
        self, case: Case, points: int, now: datetime, *, warned: bool = False
    ) -> StrikeChange:
        """The strike and the ladder steps it may cross. ``warned``: the member was already
        warned about this incident, so a step sends its sanction without a second notice."""
        factory = ActionFactory(case=case, policy=self._policy)
        steps = []
        for step in sorted(self._policy.strikes.ladder, key=lambda s: s.points):
            why, actions = factory.ladder(step)
            if warned:
                actions = [a for a in actions if a.type != "warn"]
            steps.append(
                StrikeStepPlan(
                    threshold=step.points,
                    emit=tuple(a.model_dump_json() for a in actions),
                    records=tuple(self.record(a, None, now) for a in actions),
                    events=(CaseEvent(at=now, actor=SYSTEM, kind="strike_sanction", detail=why),),
                    stats=count_actions(actions, {Counter.STRIKE_SANCTIONS: 1.0}),
                )
            )
        return StrikeChange(
            op="add",
            points=points,
            now=now.timestamp(),
            cutoff=now.timestamp() - self._policy.strikes.window,
            steps=tuple(steps),
        )

    @staticmethod
    def record(action: Action, actor: Actor | None, now: datetime) -> CaseAction:
        return CaseAction(
            id=action.id,
            type=action.type,
            by=actor.label() if actor is not None else SYSTEM,
            at=now,
            state="emitted",
            duration_s=action.duration_s if isinstance(action, TimeoutUser) else None,
            detail=action.reason,
        )
