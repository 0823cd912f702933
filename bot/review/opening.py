"""A case the pipeline opens: planned by the worker, written in the same commit as the verdict
and its actions. Pure: no I/O.

A verdict with an ``open_case`` action opens a case numbered before the commit, unless its
author has an incident open in that channel: then the message joins that case as a ``repeat``
event, adding no strike and no second warning. A verdict that acted opens an *actioned* case
and adds the category's strike points (the ladder step they cross is picked in the commit); one
in the review band, or in shadow mode, waits in the queue.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from bot.action import Action, OpenCase, action_id
from bot.case import Case, CaseAction, CaseEscalation, CaseEvent, CaseStatus
from bot.message import Message
from bot.policy import Policy
from bot.review.planning import SYSTEM, DecisionPlanner
from bot.review.store import Change
from bot.stats import Counter
from bot.verdict import Route, Verdict

__all__ = ["plan_opening", "repeat_event", "with_case"]


def with_case(actions: list[Action], case_id: str) -> list[Action]:
    """The actions of a verdict, each naming the case it belongs to."""
    return [a.model_copy(update={"case_id": case_id}) for a in actions]


def repeat_event(message: Message, verdict: Verdict, now: datetime) -> CaseEvent:
    """What a repeat adds to the incident's open case."""
    detail = f"message {message.id}: route {verdict.route.value} by {verdict.stage}"
    return CaseEvent(at=now, actor=SYSTEM, kind="repeat", detail=f"{detail}: {verdict.explain()}")


def _automatic_records(
    message: Message, verdict: Verdict, category: str | None, policy: Policy, *, shadow: bool,
    now: datetime,
) -> list[CaseAction]:  # fmt: skip
    """What the pipeline asks the adapter to do about the message (the dispatcher later notes
    what became of each)."""
    if verdict.route is not Route.ACT or category not in policy.categories:
        return []
    rule = verdict.evidence[0].rule if verdict.evidence else ""
    spec = policy.categories[category]
    records = []
    for kind in spec.on_act:
        if kind == "open_case":
            continue
        aid = action_id(message.key, kind, rule)
        if not shadow and aid not in verdict.action_ids:
            continue
        state: Literal["emitted", "shadow"] = "shadow" if shadow else "emitted"
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


def plan_opening(
    *,
    case_id: str,
    action: OpenCase,
    message: Message,
    verdict: Verdict,
    policy: Policy,
    shadow: bool,
    escalation: CaseEscalation | None,
    now: datetime,
) -> Change:
    """The change that creates case ``case_id`` for a verdict's ``open_case`` action.

    ``shadow``: runtime shadow mode covers the message (the policy file's own shadow settings
    are already on the verdict)."""
    category = verdict.category or action.category
    shadow = verdict.shadow or shadow
    acted = verdict.route is Route.ACT and not shadow
    case = Case(
        id=case_id,
        message=message,
        verdict=verdict,
        status=CaseStatus.ACTIONED if acted else CaseStatus.OPEN,
        opened_at=now,
        category=category,
        shadow=shadow,
        version=1,
        escalation=escalation,
    )
    records = _automatic_records(message, verdict, category, policy, shadow=shadow, now=now)
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
    planner = DecisionPlanner(policy=policy, now=now)
    if acted and category is not None:
        points = planner.points(category)
        if points:
            case = case.model_copy(update={"strike_points": points})
            warned = any(r.type == "warn" for r in records)
            strike = planner.strike_add(case, points, now, warned=warned)
            events.append(
                CaseEvent(at=now, actor=SYSTEM, kind="strike", detail=f"+{points} points")
            )
    return Change(
        case=case,
        create_token=action.id,
        queue="" if acted else "add",
        queue_score=now.timestamp(),
        events=tuple(events),
        records=tuple(records),
        stats=stats,
        strike=strike,
    )
