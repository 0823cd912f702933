"""What a moderator's direct action is, and what it leaves behind: the request an adapter
builds from ``/mod warn``, ``/mod ban`` and the rest, the outcome, staff notes, and the
member's mod log. Pure data; :mod:`bot.review.direct` acts on it."""

from __future__ import annotations

from datetime import datetime
from typing import Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field

from bot.action import Action
from bot.case import Case
from bot.message import Message
from bot.review.actor import Actor
from bot.review.decision import MAX_TIMEOUT_S

__all__ = [
    "CHANNEL_KINDS",
    "MEMBER_KINDS",
    "OPERATIONS",
    "DirectKind",
    "DirectModeration",
    "DirectOutcome",
    "DirectRequest",
    "ModLog",
    "ModLogEntry",
    "Note",
]

DirectKind = Literal[
    "warn", "timeout", "untimeout", "kick", "ban", "unban", "purge", "slowmode", "lock", "unlock"
]
#: Direct actions on one member (``member`` is required).
MEMBER_KINDS = frozenset({"warn", "timeout", "untimeout", "kick", "ban", "unban"})
#: Direct actions on a channel (``member`` only narrows a purge).
CHANNEL_KINDS = frozenset({"purge", "slowmode", "lock", "unlock"})

#: What each direct action is called in a refusal ("... may not ban members").
OPERATIONS = {
    "warn": "warn members",
    "timeout": "time members out",
    "untimeout": "lift timeouts",
    "kick": "kick members",
    "ban": "ban members",
    "unban": "unban members",
    "purge": "purge messages",
    "slowmode": "set slowmode",
    "lock": "lock channels",
    "unlock": "unlock channels",
}
#: A temporary ban lasts at most a year; a timeout at most 28 days (Discord's limit).
MAX_BAN_S = 365 * 86400


class DirectRequest(BaseModel):
    """A moderator's command, as an adapter parsed it.

    ``request_id`` is the platform's id of the command (a Discord interaction id, a Slack
    ``trigger_id``): the same request acts once however often it arrives. ``channel`` is
    where it acts (where the command was typed, unless the moderator named a channel);
    ``message`` the message a context-menu command was used on.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: DirectKind
    request_id: str = Field(min_length=1, max_length=200)
    channel: str = Field(min_length=1)
    member: str | None = Field(default=None, min_length=1)
    member_name: str = ""
    reason: str = Field(default="", max_length=2000)
    duration_s: int | None = Field(
        default=None, gt=0, le=MAX_BAN_S, description="timeout length; a ban's, if temporary"
    )
    delete_message_seconds: int = Field(default=0, ge=0, le=7 * 86400)
    count: int | None = Field(default=None, ge=1, le=500, description="purge: how many")
    containing: str | None = Field(default=None, min_length=1, max_length=200)
    seconds: int | None = Field(default=None, ge=0, le=21600, description="slowmode delay")
    message: Message | None = None

    @property
    def timeout_s(self) -> int:
        return min(self.duration_s or 3600, MAX_TIMEOUT_S)


class DirectOutcome(BaseModel):
    """The case a direct action recorded and the actions it put on the actions stream.
    ``repeated``: the request had been received before; nothing was done again."""

    model_config = ConfigDict(frozen=True)

    case: Case
    actions: tuple[Action, ...] = ()
    repeated: bool = False
    until: datetime | None = Field(default=None, description="when a temporary ban is lifted")


class Note(BaseModel):
    """A moderator's staff-only note on a member: never shown to the member."""

    model_config = ConfigDict(frozen=True)

    id: str
    member: str
    by: str
    at: datetime
    text: str = Field(min_length=1, max_length=2000)


class ModLogEntry(BaseModel):
    model_config = ConfigDict(frozen=True)

    at: datetime
    case: Case | None = None
    note: Note | None = None


class ModLog(BaseModel):
    """One page of a member's cases and notes, newest first, and the totals."""

    model_config = ConfigDict(frozen=True)

    member: str
    entries: tuple[ModLogEntry, ...]
    page: int
    pages: int
    cases: int
    notes: int
    sanctions: dict[str, int] = Field(
        default_factory=dict, description="performed or pending actions by type, all pages"
    )


class DirectModeration(Protocol):
    async def check_moderator(self, actor: Actor, operation: str) -> None:
        """Raises PermissionDenied unless the actor moderates their own tenant (adapters call
        it before they look at the bot's own permissions, so members learn nothing)."""
        ...

    async def act(self, actor: Actor, request: DirectRequest) -> DirectOutcome:
        """Record the moderator's direct action as a case and publish its actions."""
        ...

    async def note(self, actor: Actor, member: str, text: str, *, request_id: str) -> Note:
        """Add a staff-only note on a member."""
        ...

    async def modlogs(
        self, actor: Actor, member: str, *, page: int = 1, per_page: int = 10
    ) -> ModLog:
        """A member's cases and notes, newest first, one page."""
        ...
