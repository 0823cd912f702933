"""Stage: send the verdicts that ``decide`` routed to ESCALATE to the frontier model.

Runs after :class:`~bot.pipeline.decide.DecideStage`. Every message of the batch is first
recorded as thread context. For each escalated message the frontier model's Classification
replaces the small model's and the message is decided again; the frontier model cannot
escalate a second time (its escalate band becomes review). When the model cannot judge
(budget, API failure, malformed answer, no key) the message goes to human review with
``escalation_unavailable`` evidence and a degraded verdict: never dropped, never allowed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from bot.classification import Classification
from bot.escalation.context import ThreadContext
from bot.escalation.escalator import FrontierEscalator
from bot.escalation.record import EscalationRecord, EscalationStore
from bot.message import Message
from bot.metrics import Metrics
from bot.pipeline.assessment import Assessment
from bot.pipeline.classify import model_evidence
from bot.pipeline.decide import decide
from bot.policy import Policy
from bot.verdict import Evidence, Route

__all__ = ["UNAVAILABLE_RULE", "EscalateStage", "redecide"]

UNAVAILABLE_RULE = "escalation_unavailable"


def _no_second_escalation(evidence: Evidence) -> Evidence:
    if evidence.route is Route.ESCALATE:
        return evidence.model_copy(update={"route": Route.REVIEW})
    return evidence


def redecide(item: Assessment, record: EscalationRecord, policy: Policy) -> Assessment:
    """The assessment decided again with the frontier model's answer, or sent to review."""
    message = item.message
    rules = [e for e in item.evidence if not e.rule.startswith("model:")]
    if record.outcome.judged and record.classification is not None:
        frontier = [
            _no_second_escalation(e).model_copy(update={"rule": f"frontier:{e.category}"})
            for e in model_evidence(record.classification, policy, message.channel)
        ]
        verdict, actions = decide(message, [*rules, *frontier], record.classification, policy)
        by_rules = bool(verdict.evidence) and not verdict.evidence[0].rule.startswith("frontier:")
        verdict = verdict.model_copy(
            update={
                "stage": "rules" if by_rules else "escalate",
                "model": record.classification.model,
            }
        )
    else:
        escalated = [e for e in item.evidence if e.route is Route.ESCALATE]
        top = max(escalated, key=lambda e: e.score) if escalated else item.evidence[0]
        unavailable = Evidence(
            category=top.category,
            rule=UNAVAILABLE_RULE,
            score=top.score,
            route=Route.REVIEW,
            matched=(record.error or record.outcome.value)[:200],
        )
        evidence = [unavailable, *(_no_second_escalation(e) for e in item.evidence)]
        verdict, actions = decide(message, evidence, item.classification, policy)
        verdict = verdict.model_copy(update={"stage": "escalate", "degraded": True})
    return item.model_copy(update={"verdict": verdict, "actions": tuple(actions)})


class EscalateStage:
    name = "escalate"

    def __init__(
        self,
        *,
        escalator: FrontierEscalator,
        context: ThreadContext,
        store: EscalationStore,
        policy: Policy,
        metrics: Metrics | None = None,
        concurrency: int = 4,
    ) -> None:
        self._escalator = escalator
        self._context = context
        self._store = store
        self._policy = policy
        self._metrics = metrics
        self._concurrency = concurrency

    @property
    def policy(self) -> Policy:
        return self._policy

    def for_policy(self, policy: Policy) -> EscalateStage:
        """This stage (its client, budget, cache and context) under another policy version:
        the judge of each version escalates with its own."""
        if policy.version == self._policy.version:
            return self
        return EscalateStage(
            escalator=self._escalator.for_policy(policy),
            context=self._context,
            store=self._store,
            policy=policy,
            metrics=self._metrics,
            concurrency=self._concurrency,
        )

    @property
    def unavailable(self) -> str | None:
        """Why nothing can be sent (no API key), or None when requests can go out."""
        return self._escalator.unavailable

    async def aclose(self) -> None:
        await self._escalator.aclose()

    async def run(self, batch: Sequence[Assessment]) -> list[Assessment]:
        """Raises redis errors (the batch stays pending); model failures go to review."""
        await self._context.record([item.message for item in batch])
        todo = [
            i
            for i, item in enumerate(batch)
            if item.verdict is not None and item.verdict.route is Route.ESCALATE
        ]
        out = list(batch)
        if not todo:
            return out
        gate = asyncio.Semaphore(self._concurrency)

        async def one(item: Assessment) -> Assessment:
            async with gate:
                return await self._escalate(item)

        done = await asyncio.gather(*(one(batch[i]) for i in todo))
        for index, item in zip(todo, done, strict=True):
            out[index] = item
        return out

    async def ask(
        self, message: Message, first_opinion: Classification | None = None
    ) -> EscalationRecord:
        """The frontier model's opinion on one message with its thread, recorded and counted.
        The pipeline calls it for escalated verdicts; a moderator's ``/mod ask`` may call it
        for any stored message. Raises redis errors."""
        context = await self._context.before(message, self._policy.escalation.context_messages)
        record = await self._escalator.assess(message, context)
        record = record.model_copy(update={"first_opinion": first_opinion})
        if await self._store.save(record):
            self._count(record)
        return record

    async def _escalate(self, item: Assessment) -> Assessment:
        record = await self.ask(item.message, item.classification)
        return redecide(item, record, self._policy)

    def _count(self, record: EscalationRecord) -> None:
        if self._metrics is None:
            return
        self._metrics.escalations.labels(outcome=record.outcome.value).inc()
        usage = record.usage
        for kind, tokens in (
            ("input", usage.input_tokens),
            ("output", usage.output_tokens),
            ("cache_write", usage.cache_write_tokens),
            ("cache_read", usage.cache_read_tokens),
        ):
            if tokens:
                self._metrics.frontier_tokens.labels(kind=kind).inc(tokens)
        if record.cost:
            self._metrics.frontier_cost.inc(record.cost)
