"""What a candidate policy would have done: a tenant's recorded messages judged again.

The history is the verdicts stream (each decided message with its verdict, ``{ns}:verdicts``);
the moderators' decisions are the tenant's labels stream, joined to messages through their
cases. Each message goes through the candidate's preview judge (the stages the worker runs,
rate counters off, nothing sent to the frontier model). Scores are reused from the recorded
verdict when it was scored by the same model, so a change of thresholds, rules or actions
replays without running the model; ``model_calls`` says how many texts the model did see.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import redis.asyncio as aioredis
from pydantic import BaseModel, ConfigDict, Field

from bot.classification import Classification
from bot.classifiers.base import Classifier
from bot.insights.backtest_tally import StrikeMember, frontier_cost, routes_by_category, strikes
from bot.keys import Streams
from bot.message import Message
from bot.pipeline.judge import build_judge
from bot.policy import Policy
from bot.review.store import CaseStore
from bot.settings import Settings
from bot.tenant import Tenant
from bot.verdict import Route, Verdict

__all__ = ["Backtest", "BacktestReport", "Change", "Recorded", "StoredScores", "read_history"]

_EXAMPLES = 10
_QUOTE = 200
_STRIKE_MEMBERS = 50


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class Recorded(BaseModel):
    """One decided message as the worker recorded it."""

    model_config = ConfigDict(frozen=True)

    message: Message
    verdict: Verdict


class StoredScores:
    """The model's recorded scores for texts it already judged; the model itself for the rest.

    Implements :class:`~bot.classifiers.base.Classifier` under the model's own name, so the
    judge's verdicts name the same model as the recorded ones."""

    def __init__(self, model: Classifier, recorded: Sequence[Recorded], max_chars: int) -> None:
        self._model = model
        self.name = model.name
        self.calls = 0
        self._known: dict[str, Classification] = {}
        for item in recorded:
            found = item.verdict.classification
            if found is not None and found.model == model.name:
                self._known[item.message.text[:max_chars]] = found

    async def classify(self, texts: Sequence[str]) -> list[Classification]:
        missing = [t for t in dict.fromkeys(texts) if t not in self._known]
        if missing:
            self.calls += len(missing)
            fresh = await self._model.classify(missing)
            self._known.update(zip(missing, fresh, strict=True))
        return [self._known[t] for t in texts]


class Change(BaseModel):
    """A message the candidate routes differently."""

    model_config = ConfigDict(frozen=True)

    message_key: str
    text: str = Field(description=f"the first {_QUOTE} characters")
    before: str
    after: str
    category: str | None = Field(description="the candidate's category")


class CategoryAgreement(BaseModel):
    model_config = ConfigDict(frozen=True)

    labelled: int = Field(description="messages moderators decided for this category")
    precision: float
    recall: float


class BacktestReport(BaseModel):
    """Exactly the JSON object ``modtriage backtest --json`` prints (README: Backtest)."""

    model_config = ConfigDict(frozen=True)

    tenant: str
    candidate: str = Field(description="the candidate policy's version")
    recorded_versions: list[str] = Field(description="the policy versions that decided them")
    n: int
    since: datetime | None
    routes_before: dict[str, int]
    routes_after: dict[str, int]
    changed: int
    transitions: dict[str, int] = Field(description="'allow->review': messages, ...")
    examples: list[Change]
    actions_before: dict[str, int]
    actions_after: dict[str, int]
    cases_before: int = Field(description="messages that opened (or joined) a case")
    cases_after: int
    moderators: dict[str, CategoryAgreement] = Field(
        description="the candidate against moderators' decisions, per category"
    )
    frontier_calls: int = Field(description="messages the candidate routes to the frontier model")
    frontier_cost: float = Field(description="those calls priced as the escalation estimate does")
    frontier_currency: str
    routes_by_category_before: dict[str, dict[str, int]] = Field(
        description="messages per category and route, recorded ('none': allowed)"
    )
    routes_by_category_after: dict[str, dict[str, int]]
    strike_steps_before: dict[str, int] = Field(
        description="members crossing each ladder step ('3:timeout'), the current policy's"
    )
    strike_steps_after: dict[str, int] = Field(description="the same with the candidate's")
    strike_members: list[StrikeMember] = Field(
        description=f"up to {_STRIKE_MEMBERS} members whose strike points or steps differ"
    )
    model_calls: int = Field(description="texts the model scored again (0: scores reused)")
    seconds: float


async def read_history(
    redis: aioredis.Redis, streams: Streams, tenant: Tenant, *, since: datetime | None = None,
    limit: int = 100_000,
) -> list[Recorded]:  # fmt: skip
    """The tenant's decided messages, oldest first, from ``since`` on (by decision time)."""
    start = f"{int(since.timestamp() * 1000)}-0" if since is not None else "-"
    out: list[Recorded] = []
    while len(out) < limit:
        entries: Any = await redis.xrange(streams.of(tenant).verdicts, min=start, count=1000)
        if not entries:
            break
        for _, fields in entries:
            message = Message.model_validate_json(fields[b"message"])
            if Tenant.of(message) == tenant:
                verdict = Verdict.model_validate_json(fields[b"verdict"])
                out.append(Recorded(message=message, verdict=verdict))
        start = "(" + _text(entries[-1][0])
    return out[:limit]


async def read_decisions(
    redis: aioredis.Redis, streams: Streams, tenant: Tenant
) -> dict[str, dict[str, int]]:
    """Moderators' labels by message key: ``{message_key: {category: 0|1}}`` (the latest
    decision on a case wins)."""
    store = CaseStore(redis=redis, streams=streams)
    rows: dict[str, dict[str, int]] = {}
    entries: Any = await redis.xrange(streams.tenant(tenant).labels)
    by_case: dict[str, dict[str, int]] = {}
    for _, fields in entries:
        row = json.loads(fields[b"label"])
        case_id = str(row.get("meta", {}).get("case_id", ""))
        if case_id and row.get("labels"):
            by_case[case_id] = {str(k): int(v) for k, v in row["labels"].items()}
    for case in await store.load_many(list(by_case), tenant):
        rows[case.message.key] = by_case[case.id]
    return rows


class Backtest:
    """Judges a tenant's history under a candidate policy."""

    def __init__(self, *, settings: Settings, classifier: Classifier) -> None:
        self._settings = settings
        self._classifier = classifier

    async def run(
        self,
        history: Sequence[Recorded],
        candidate: Policy,
        *,
        tenant: Tenant,
        decisions: dict[str, dict[str, int]],
        since: datetime | None = None,
        current: Policy | None = None,
    ) -> BacktestReport:
        """``current``: the policy whose strike points and ladder count what happened (the
        tenant's current one; default the candidate's)."""
        started = time.perf_counter()
        scores = StoredScores(self._classifier, history, self._settings.model_max_chars)
        judge = build_judge(policy=candidate, classifier=scores, settings=self._settings)
        after: list[Verdict] = []
        actions_after: Counter[str] = Counter()
        cases_after = 0
        try:
            batch = max(1, self._settings.batch_size)
            for i in range(0, len(history), batch):
                judged = await judge.judge([r.message for r in history[i : i + batch]])
                for item in judged:
                    assert item.verdict is not None  # the decide stage always gives one
                    after.append(item.verdict)
                    actions_after.update(a.type for a in item.actions)
                    cases_after += any(a.type == "open_case" for a in item.actions)
        finally:
            await judge.aclose()
        return self._report(
            history, after, candidate, current or candidate, tenant=tenant, decisions=decisions,
            since=since, actions_after=actions_after, cases_after=cases_after,
            model_calls=scores.calls, seconds=time.perf_counter() - started,
        )  # fmt: skip

    def _report(
        self, history: Sequence[Recorded], after: list[Verdict], candidate: Policy,
        current: Policy, *,
        tenant: Tenant, decisions: dict[str, dict[str, int]], since: datetime | None,
        actions_after: Counter[str], cases_after: int, model_calls: int, seconds: float,
    ) -> BacktestReport:  # fmt: skip
        routes = [r.value for r in Route]
        before_routes = Counter(r.verdict.route.value for r in history)
        after_routes = Counter(v.route.value for v in after)
        transitions: Counter[str] = Counter()
        examples: list[Change] = []
        for recorded, verdict in zip(history, after, strict=True):
            was, now = recorded.verdict.route.value, verdict.route.value
            if was == now:
                continue
            transitions[f"{was}->{now}"] += 1
            if len(examples) < _EXAMPLES:
                examples.append(
                    Change(
                        message_key=recorded.message.key,
                        text=recorded.message.text[:_QUOTE],
                        before=was,
                        after=now,
                        category=verdict.category,
                    )
                )
        actions_before: Counter[str] = Counter()
        for recorded in history:
            actions_before.update(_types(recorded.verdict))
        messages = [r.message for r in history]
        before = [r.verdict for r in history]
        steps_before, steps_after, members = strikes(
            messages, before=before, after=after, decisions=decisions, current=current,
            candidate=candidate,
        )  # fmt: skip
        frontier = frontier_cost(messages, after, candidate=candidate, settings=self._settings)
        return BacktestReport(
            tenant=str(tenant),
            candidate=candidate.version,
            recorded_versions=sorted({r.verdict.policy_version or "-" for r in history}),
            n=len(history),
            since=since,
            routes_before={r: before_routes.get(r, 0) for r in routes},
            routes_after={r: after_routes.get(r, 0) for r in routes},
            changed=sum(transitions.values()),
            transitions=dict(sorted(transitions.items())),
            examples=examples,
            actions_before=dict(sorted(actions_before.items())),
            actions_after=dict(sorted(actions_after.items())),
            cases_before=sum(1 for r in history if "open_case" in _types(r.verdict)),
            cases_after=cases_after,
            moderators=_agreement(history, after, decisions),
            frontier_calls=frontier.calls,
            frontier_cost=frontier.cost,
            frontier_currency=frontier.currency,
            routes_by_category_before=routes_by_category(before),
            routes_by_category_after=routes_by_category(after),
            strike_steps_before=steps_before,
            strike_steps_after=steps_after,
            strike_members=members[:_STRIKE_MEMBERS],
            model_calls=model_calls,
            seconds=round(seconds, 3),
        )


def _types(verdict: Verdict) -> tuple[str, ...]:
    """The action types a recorded verdict emitted (verdicts recorded before the types were
    kept count none)."""
    return verdict.action_types


def _flags(verdict: Verdict, category: str) -> bool:
    """Whether a verdict holds ``category`` against the message (not allowed, and the
    category among its evidence at review or above)."""
    if verdict.route is Route.ALLOW:
        return False
    return verdict.category == category or any(
        e.category == category and e.route is not Route.ALLOW for e in verdict.evidence
    )


def _agreement(
    history: Sequence[Recorded], after: list[Verdict], decisions: dict[str, dict[str, int]]
) -> dict[str, CategoryAgreement]:
    per: dict[str, list[tuple[bool, bool]]] = {}
    for recorded, verdict in zip(history, after, strict=True):
        for category, label in decisions.get(recorded.message.key, {}).items():
            per.setdefault(category, []).append((label == 1, _flags(verdict, category)))
    out = {}
    for category, pairs in sorted(per.items()):
        tp = sum(t and p for t, p in pairs)
        fp = sum(p and not t for t, p in pairs)
        fn = sum(t and not p for t, p in pairs)
        out[category] = CategoryAgreement(
            labelled=len(pairs),
            precision=tp / (tp + fp) if tp + fp else 0.0,
            recall=tp / (tp + fn) if tp + fn else 0.0,
        )
    return out
