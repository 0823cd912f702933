"""A case: one decision that matters, with its evidence and history."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from bot.message import Message
from bot.verdict import Verdict

__all__ = ["Case", "CaseAction", "CaseEscalation", "CaseEvent", "CaseStatus"]


class CaseStatus(StrEnum):
    OPEN = "open"
    ACTIONED = "actioned"
    DISMISSED = "dismissed"
    APPEALED = "appealed"
    OVERTURNED = "overturned"


class CaseEvent(BaseModel):
    """One entry of a case's append-only history."""

    model_config = ConfigDict(frozen=True)

    at: datetime = Field(default_factory=lambda: datetime.now(UTC))
    actor: str = Field(description="'modtriage' or the moderator's or member's id")
    kind: str = Field(description="opened, claimed, decided, notified, appealed, overturned, ...")
    detail: str = ""


class CaseAction(BaseModel):
    """An action asked for on a case, who asked for it, and what became of it."""

    model_config = ConfigDict(frozen=True)

    id: str
    type: str = Field(description="the Action type: delete, warn, timeout, ban, lift, ...")
    by: str = Field(description="'modtriage' or the moderator's id")
    at: datetime = Field(default_factory=lambda: datetime.now(UTC))
    state: Literal["emitted", "performed", "failed", "shadow", "skipped", "unknown"] = "emitted"
    duration_s: int | None = None
    detail: str = ""


class CaseEscalation(BaseModel):
    """What the frontier model was sent about the case's message, and what came back.

    ``text`` is the redacted thread and message exactly as sent (the system prompt is the
    policy of ``Verdict.policy_version``); ``pseudonyms`` maps its placeholders back to the
    members and data they replace, and never left the machine.
    """

    model_config = ConfigDict(frozen=True)

    outcome: str = Field(description="answered, cached, budget_exhausted, unavailable, malformed")
    model: str
    sent: bool = Field(description="whether a request left the machine (a cached answer: no)")
    text: str
    pseudonyms: dict[str, str] = Field(default_factory=dict)
    answer: dict[str, Any] | None = Field(default=None, description="the tool input received")
    error: str | None = None
    cost: float = 0.0
    currency: str = "USD"
    asked_by: str = Field(default="modtriage", description="the pipeline, or a moderator")
    at: datetime = Field(default_factory=lambda: datetime.now(UTC))
    cache_key: str = Field(default="", description="hash of what was (or would be) sent")

    def headline(self) -> str:
        """E.g. 'answered by claude-sonnet-4-6 · sent · cost 0.0078 USD'."""
        sent = "sent" if self.sent else "nothing sent"
        asked = "" if self.asked_by == "modtriage" else f" · asked by {self.asked_by}"
        return (
            f"{self.outcome.replace('_', ' ')} by {self.model} · {sent} · "
            f"cost {self.cost:.4f} {self.currency}{asked}"
        )

    def legend(self) -> list[str]:
        """Each placeholder in ``text`` and what it stands for: 'user1 = U123 (Jenny)'."""
        return [f"{placeholder} = {original}" for placeholder, original in self.pseudonyms.items()]

    def came_back(self) -> str:
        """The answer in a line or two: the top scores and the rationale, or the error."""
        answer = self.answer or {}
        scores = answer.get("scores")
        if isinstance(scores, dict):
            ranked = sorted(
                ((str(k), v) for k, v in scores.items() if isinstance(v, int | float)),
                key=lambda kv: -kv[1],
            )
            line = ", ".join(f"{name} {score:.2f}" for name, score in ranked[:4])
            rationale = answer.get("rationale")
            text = f"{line}: {rationale}" if rationale else line
            return text if not self.error else f"{text} ({self.error})"
        if answer:
            raw = json.dumps(answer, ensure_ascii=False)
            return (raw if len(raw) <= 300 else raw[:299] + "…") + (
                f" ({self.error})" if self.error else ""
            )
        return f"nothing: {self.error or self.outcome}"


class Case(BaseModel):
    """A case with its evidence (``verdict``) and its append-only ``events``.

    ``events`` and ``actions`` are appended to, never rewritten; the other fields are the
    case's current state.
    """

    model_config = ConfigDict(frozen=True)

    id: str
    message: Message
    verdict: Verdict
    status: CaseStatus = CaseStatus.OPEN
    events: tuple[CaseEvent, ...] = ()
    actions: tuple[CaseAction, ...] = ()
    opened_at: datetime = Field(default_factory=lambda: datetime.now(UTC))
    source: Literal["pipeline", "report", "ask", "direct"] = "pipeline"
    category: str | None = None
    shadow: bool = Field(default=False, description="decided in shadow mode: nothing was done")
    claimed_by: str | None = None
    claimed_at: datetime | None = None
    decided_by: str | None = None
    decision: str | None = Field(default=None, description="the last moderator decision kind")
    strike_points: int = Field(default=0, description="points this case added to the member")
    appeal: str | None = Field(default=None, description="the member's appeal text")
    version: int = Field(default=0, description="bumped by every change (optimistic locking)")
    escalation: CaseEscalation | None = Field(
        default=None, description="the frontier model's part in the case, when it had one"
    )

    @property
    def link(self) -> str | None:
        """The platform's link to the message, when the adapter knew one."""
        return self.message.permalink

    @property
    def awaiting_review(self) -> bool:
        return self.status in (CaseStatus.OPEN, CaseStatus.APPEALED)
