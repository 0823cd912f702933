"""What a backtest counts beside routes: strike steps members would cross, the frontier
model's calls and their cost, and routes per category. Pure: no I/O.

Strikes are counted the way the commit adds them, message by message in time order, per
member: a verdict that acts (not in shadow mode) adds its category's strike points, and so
does a message the moderators decided broke a category's rules when the verdict still puts
that category before them (review or escalate: the case would open, and their decision is
taken to stand). A member crosses a ladder step when the points within the strike window go
from below its threshold to at least it. Each message counts on its own: a repeat that would
join an incident's open case (and add no strike) is not told apart.

A frontier call is priced as ``modtriage estimate escalation`` prices it: the redacted prompt
the escalate stage would build (the channel's preceding messages of the history as its
context), its estimated input tokens plus ``OUTPUT_TOKENS`` of answer, times the settings'
price table; identical prompts are counted once, as the answer cache would.
"""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Mapping, Sequence

from pydantic import BaseModel, ConfigDict, Field

from bot.escalation.answer import AnswerSchema
from bot.escalation.cache import content_hash
from bot.escalation.escalator import TOOL_OVERHEAD_TOKENS
from bot.escalation.estimate import OUTPUT_TOKENS
from bot.escalation.pricing import Prices, Usage
from bot.escalation.prompt import build_prompt, estimate_tokens, system_prompt
from bot.message import Message
from bot.policy import Policy
from bot.settings import Settings
from bot.verdict import Route, Verdict

__all__ = ["FrontierCost", "StrikeMember", "frontier_cost", "routes_by_category", "strikes"]

#: The category key of messages no category flagged (allowed).
NO_CATEGORY = "none"


class StrikeMember(BaseModel):
    """A member whose strike points or crossed steps differ under the candidate."""

    model_config = ConfigDict(frozen=True)

    member: str = Field(description="the author's platform id")
    points_before: int = Field(description="most points within one strike window, recorded")
    points_after: int
    steps_before: list[str] = Field(description="ladder steps crossed, e.g. '3:timeout'")
    steps_after: list[str]


class FrontierCost(BaseModel):
    model_config = ConfigDict(frozen=True)

    calls: int
    cost: float
    currency: str


def _step(points: int, action: str) -> str:
    return f"{points}:{action}"


def _points(policy: Policy, category: str | None) -> int:
    spec = policy.categories.get(category or "")
    if spec is None or spec.support:
        return 0
    return spec.strike_points


def _flags(verdict: Verdict, category: str) -> bool:
    """Whether a verdict puts ``category`` before moderators or acts on it."""
    if verdict.route is Route.ALLOW:
        return False
    return verdict.category == category or any(
        e.category == category and e.route is not Route.ALLOW for e in verdict.evidence
    )


def _earned(verdict: Verdict, decided: Mapping[str, int], policy: Policy) -> int:
    if verdict.route is Route.ACT and not verdict.shadow:
        return _points(policy, verdict.category)
    broke = [c for c, label in decided.items() if label == 1 and _flags(verdict, c)]
    return max((_points(policy, c) for c in broke), default=0)


def _crossings(
    messages: Sequence[Message], verdicts: Sequence[Verdict],
    decisions: Mapping[str, Mapping[str, int]], policy: Policy,
) -> dict[str, tuple[int, list[str]]]:  # fmt: skip
    """Per member: the most points within one window and the steps crossed, in order."""
    ladder = sorted(policy.strikes.ladder, key=lambda s: s.points)
    window = policy.strikes.window
    held: dict[str, deque[tuple[float, int]]] = {}
    out: dict[str, tuple[int, list[str]]] = {}
    order = sorted(range(len(messages)), key=lambda i: messages[i].ts)
    for i in order:
        message = messages[i]
        points = _earned(verdicts[i], decisions.get(message.key, {}), policy)
        if not points:
            continue
        now = message.ts.timestamp()
        member = message.author.id
        kept = held.setdefault(member, deque())
        while kept and kept[0][0] < now - window:
            kept.popleft()
        before = sum(p for _, p in kept)
        kept.append((now, points))
        after = before + points
        peak, crossed = out.get(member, (0, []))
        # as the commit does: the highest step this strike crosses is the one applied
        chosen = [s for s in ladder if before < s.points <= after]
        if chosen:
            crossed = [*crossed, _step(chosen[-1].points, chosen[-1].action)]
        out[member] = (max(peak, after), crossed)
    return out


def strikes(
    messages: Sequence[Message], *, before: Sequence[Verdict], after: Sequence[Verdict],
    decisions: Mapping[str, Mapping[str, int]], current: Policy, candidate: Policy,
) -> tuple[dict[str, int], dict[str, int], list[StrikeMember]]:  # fmt: skip
    """Members crossing each ladder step, recorded (``current``'s points and ladder) and with
    the candidate's; and the members whose points or steps differ, by member id."""
    was = _crossings(messages, before, decisions, current)
    now = _crossings(messages, after, decisions, candidate)

    def per_step(found: dict[str, tuple[int, list[str]]], policy: Policy) -> dict[str, int]:
        steps = {_step(s.points, s.action): 0 for s in policy.strikes.ladder}
        for _, crossed in found.values():
            for step in set(crossed):
                steps[step] = steps.get(step, 0) + 1
        return dict(sorted(steps.items(), key=lambda kv: int(kv[0].split(":")[0])))

    members = []
    for member in sorted(set(was) | set(now)):
        pb, sb = was.get(member, (0, []))
        pa, sa = now.get(member, (0, []))
        if (pb, sb) != (pa, sa):
            members.append(
                StrikeMember(
                    member=member,
                    points_before=pb,
                    points_after=pa,
                    steps_before=sb,
                    steps_after=sa,
                )
            )
    return per_step(was, current), per_step(now, candidate), members


def frontier_cost(
    messages: Sequence[Message], after: Sequence[Verdict], *, candidate: Policy,
    settings: Settings,
) -> FrontierCost:  # fmt: skip
    """The calls the candidate sends to the frontier model and what they would cost."""
    prices = Prices.from_settings(settings)
    system = system_prompt(candidate)
    overhead = estimate_tokens(json.dumps(AnswerSchema(policy=candidate).tool()))
    overhead += TOOL_OVERHEAD_TOKENS
    recent: dict[str, deque[Message]] = {}
    seen: set[str] = set()
    calls, cost = 0, 0.0
    for message, verdict in zip(messages, after, strict=True):
        window = recent.setdefault(
            message.channel, deque(maxlen=candidate.escalation.context_messages)
        )
        context = list(window)
        window.append(message)
        if verdict.route is not Route.ESCALATE:
            continue
        calls += 1
        prompt = build_prompt(
            policy=candidate, message=message, context=context,
            max_input_tokens=settings.frontier_max_input_tokens,
            max_message_chars=settings.model_max_chars, system=system, overhead_tokens=overhead,
        )  # fmt: skip
        digest = content_hash(
            policy_version=candidate.version, model=settings.frontier_model, system=system,
            user=prompt.user,
        )  # fmt: skip
        if digest in seen:
            continue
        seen.add(digest)
        cost += prices.cost(
            Usage(input_tokens=prompt.estimated_input_tokens, output_tokens=OUTPUT_TOKENS)
        )
    return FrontierCost(calls=calls, cost=round(cost, 6), currency=prices.currency)


def routes_by_category(verdicts: Sequence[Verdict]) -> dict[str, dict[str, int]]:
    """Messages per category and route (allowed messages under ``none``), every route named."""
    out: dict[str, dict[str, int]] = {}
    for verdict in verdicts:
        key = verdict.category if verdict.route is not Route.ALLOW and verdict.category else None
        row = out.setdefault(key or NO_CATEGORY, {r.value: 0 for r in Route})
        row[verdict.route.value] += 1
    return dict(sorted(out.items()))
