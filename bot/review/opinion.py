"""A moderator asks the frontier model about one existing message (``/mod ask``).

The message goes out like any escalation — redacted, with its thread from Redis, budgeted,
cached and recorded — and its answer is decided under the policy beside the small model's
verdict. The record joins the message's case: an existing case gets it with an ``asked`` event;
when there is none and the frontier model's verdict is *review* or *act*, a case is opened in
the review queue (nothing is enforced: the moderator who asked decides). When escalation is
off or the model cannot judge, the answer says why and shows the small model's verdict.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from pydantic import BaseModel, ConfigDict

from bot.case import Case, CaseEvent, CaseStatus
from bot.errors import CaseConflict
from bot.escalation.record import EscalationRecord
from bot.escalation.stage import EscalateStage, redecide
from bot.message import Message
from bot.pipeline.assessment import Assessment
from bot.policy import Policy
from bot.review.actor import Actor
from bot.review.store import CaseStore, Change
from bot.stats import Counter
from bot.tenant import Tenant
from bot.verdict import Route, Verdict

__all__ = ["ESCALATION_OFF", "Opinion", "SecondOpinions"]

ESCALATION_OFF = "escalation to the frontier model is off in the policy (escalation.enabled)"
_RESTART = "escalation was enabled after modtriage started: restart it to ask the frontier model"
_ATTEMPTS = 3


class Opinion(BaseModel):
    """The answer to ``/mod ask``: the frontier model's verdict next to the small model's."""

    model_config = ConfigDict(frozen=True)

    message: Message
    small: Verdict
    record: EscalationRecord | None = None
    verdict: Verdict | None = None
    unavailable: str | None = None
    case: Case | None = None
    case_opened: bool = False

    @property
    def judged(self) -> bool:
        return self.verdict is not None


class SecondOpinions:
    """Asks, records, and joins the answer to the message's case."""

    def __init__(
        self,
        *,
        store: CaseStore,
        escalation: EscalateStage | None,
        clock: Callable[[], datetime],
    ) -> None:
        self._store = store
        self._escalation = escalation
        self._clock = clock

    async def ask(self, actor: Actor, message: Message, small: Verdict, policy: Policy) -> Opinion:
        """Raises redis errors and CaseConflict (the case kept changing under us)."""
        escalation = self._escalation
        if not policy.escalation.enabled:
            return Opinion(message=message, small=small, unavailable=ESCALATION_OFF)
        if escalation is None:
            return Opinion(message=message, small=small, unavailable=_RESTART)
        if escalation.unavailable is not None:
            return Opinion(message=message, small=small, unavailable=escalation.unavailable)
        record = await escalation.for_policy(policy).ask(message, small.classification)
        verdict = None
        unavailable = None
        if record.outcome.judged:
            item = Assessment(
                entry_id="ask",
                message=message,
                evidence=small.evidence,
                classification=small.classification,
            )
            verdict = redecide(item, record, policy).verdict
        else:
            unavailable = record.error or record.outcome.value.replace("_", " ")
        case, opened = await self._join_case(actor, message, record, verdict)
        return Opinion(
            message=message,
            small=small,
            record=record,
            verdict=verdict,
            unavailable=unavailable,
            case=case,
            case_opened=opened,
        )

    async def _join_case(
        self, actor: Actor, message: Message, record: EscalationRecord, verdict: Verdict | None
    ) -> tuple[Case | None, bool]:
        summary = record.for_case(asked_by=actor.label())
        now = self._clock()
        route = f"{verdict.route.value} {verdict.category or ''}".strip() if verdict else "-"
        event = CaseEvent(
            at=now, actor=actor.label(), kind="asked", detail=f"{summary.headline()}: {route}"
        )
        for _ in range(_ATTEMPTS):
            case_id = await self._store.case_for_message(message.key)
            if case_id is not None:
                case = await self._store.load(case_id, Tenant.of(message))
                kept = case.escalation
                # A cache hit for the same prompt keeps the record of the request that paid.
                paid = kept is not None and kept.sent and kept.cache_key == summary.cache_key
                if not paid or summary.sent:
                    kept = summary
                updated = case.model_copy(update={"escalation": kept, "version": case.version + 1})
                applied = await self._store.apply(Change.of(case, updated, events=(event,)))
                if applied.outcome == "applied":
                    return await self._store.load(case_id, Tenant.of(message)), False
                continue  # changed meanwhile: load it again
            if verdict is None or verdict.route not in (Route.REVIEW, Route.ACT):
                return None, False
            case = Case(
                id=await self._store.next_id(Tenant.of(message)),
                message=message,
                verdict=verdict,
                status=CaseStatus.OPEN,
                opened_at=now,
                source="ask",
                category=verdict.category,
                version=1,
                escalation=summary,
            )
            applied = await self._store.apply(
                Change(
                    case=case,
                    create_token=f"ask:{message.key}",
                    queue="add",
                    queue_score=now.timestamp(),
                    events=(event.model_copy(update={"kind": "opened"}),),
                    stats={
                        Counter.CASES_OPENED: 1.0,
                        Counter.route("ask"): 1.0,
                        Counter.category(verdict.category): 1.0,
                    },
                )
            )
            found = await self._store.load(applied.case_id, Tenant.of(message))
            return found, applied.outcome == "applied"
        raise CaseConflict(message.key, "the case kept changing; ask again")
