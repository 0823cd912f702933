"""What the stages know about one message as it moves through a worker."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from bot.action import Action
from bot.classification import Classification
from bot.message import Message
from bot.verdict import Evidence, Verdict

__all__ = ["Assessment"]


class Assessment(BaseModel):
    """Immutable; each stage returns an updated copy."""

    model_config = ConfigDict(frozen=True)

    entry_id: str
    message: Message
    evidence: tuple[Evidence, ...] = ()
    classification: Classification | None = None
    verdict: Verdict | None = None
    actions: tuple[Action, ...] = ()
    model_unavailable: str | None = Field(
        default=None,
        description="why the model could not judge the message's batch; rules alone decide",
    )
