"""A case: one decision that matters, with its evidence and history."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from bot.message import Message
from bot.verdict import Verdict

__all__ = ["Case", "CaseEvent", "CaseStatus"]


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


class Case(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: str
    message: Message
    verdict: Verdict
    status: CaseStatus = CaseStatus.OPEN
    events: tuple[CaseEvent, ...] = ()
