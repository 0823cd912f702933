"""A case: one decision that matters, with its evidence and history."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from bot.message import Message
from bot.verdict import Verdict

__all__ = ["Case", "CaseAction", "CaseEvent", "CaseStatus"]


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
    state: Literal["emitted", "performed", "failed", "shadow", "skipped"] = "emitted"
    duration_s: int | None = None
    detail: str = ""


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
    source: Literal["pipeline", "report"] = "pipeline"
    category: str | None = None
    shadow: bool = Field(default=False, description="decided in shadow mode: nothing was done")
    claimed_by: str | None = None
    claimed_at: datetime | None = None
    decided_by: str | None = None
    decision: str | None = Field(default=None, description="the last moderator decision kind")
    strike_points: int = Field(default=0, description="points this case added to the member")
    appeal: str | None = Field(default=None, description="the member's appeal text")
    version: int = Field(default=0, description="bumped by every change (optimistic locking)")

    @property
    def link(self) -> str | None:
        """The platform's link to the message, when the adapter knew one."""
        return self.message.permalink

    @property
    def awaiting_review(self) -> bool:
        return self.status in (CaseStatus.OPEN, CaseStatus.APPEALED)
