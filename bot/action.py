"""Actions are data: what the pipeline asks an adapter to do, dispatched by ``type``."""

from __future__ import annotations

import hashlib
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from bot.message import Message, Platform

__all__ = [
    "ACTION_ADAPTER",
    "REPEATABLE",
    "Action",
    "ActionBase",
    "BanUser",
    "DeleteMessage",
    "KickUser",
    "LiftSanction",
    "LockChannel",
    "NotifyModerators",
    "OpenCase",
    "PurgeMessages",
    "Reply",
    "SetSlowmode",
    "TimeoutUser",
    "WarnUser",
    "about",
    "action_id",
]


#: Action types a platform absorbs when they are repeated: a message deleted, a member timed
#: out, kicked, banned or let back in stays so. Notices (warn, reply, notify, a review card)
#: would reach people twice.
REPEATABLE = frozenset({"delete", "timeout", "kick", "ban", "lift", "slowmode", "lock"})


def action_id(message_key: str, kind: str, rule: str) -> str:
    """Stable id from message, action type and rule, so a redelivered message never acts twice."""
    return hashlib.sha256(f"{message_key}|{kind}|{rule}".encode()).hexdigest()[:20]


def about(message: Message, *, reason: str) -> dict[str, str]:
    """The fields every action on ``message`` carries: where it is, whose it is, and why."""
    return {
        "platform": message.platform,
        "workspace": message.workspace,
        "channel": message.channel,
        "message_id": message.id,
        "user_id": message.author.id,
        "message_key": message.key,
        "reason": reason,
    }


class ActionBase(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: str = Field(min_length=1)
    platform: Platform
    workspace: str
    channel: str
    message_id: str
    user_id: str = Field(description="the member the action concerns")
    message_key: str
    reason: str = ""
    case_id: str | None = None


class DeleteMessage(ActionBase):
    type: Literal["delete"] = "delete"


class WarnUser(ActionBase):
    """Tell the member privately which rule their message broke, quoting it."""

    type: Literal["warn"] = "warn"
    text: str
    quote: str = ""
    dm: bool = Field(default=False, description="by direct message, not beside a message")


class TimeoutUser(ActionBase):
    type: Literal["timeout"] = "timeout"
    duration_s: int = Field(gt=0, le=28 * 24 * 3600)


class KickUser(ActionBase):
    type: Literal["kick"] = "kick"


class BanUser(ActionBase):
    type: Literal["ban"] = "ban"
    delete_message_seconds: int = Field(
        default=0, ge=0, le=7 * 86400, description="the member's messages of this span go too"
    )


class LiftSanction(ActionBase):
    """Undo a timeout or ban (an overturned case)."""

    type: Literal["lift"] = "lift"
    sanction: Literal["timeout", "ban"]


class Reply(ActionBase):
    """Post in the message's thread: an FAQ answer or support resources."""

    type: Literal["reply"] = "reply"
    text: str
    thread: str | None = None
    feedback_buttons: bool = False
    faq_id: str | None = None


class NotifyModerators(ActionBase):
    type: Literal["notify"] = "notify"
    text: str
    critical: bool = Field(
        default=False,
        description="must reach someone (a raid): by DM to the owners when no channel is set",
    )
    ping_roles: tuple[str, ...] = Field(default=(), description="role ids the notice pings")


class OpenCase(ActionBase):
    """Record a case for review; the review queue picks it up."""

    type: Literal["open_case"] = "open_case"
    route: str
    category: str | None = None


class PurgeMessages(ActionBase):
    """Delete the channel's last ``count`` messages (only ``only_user``'s, or only those
    containing ``containing``, when given). Not repeatable: a second run deletes more."""

    type: Literal["purge"] = "purge"
    count: int = Field(ge=1, le=500)
    only_user: str | None = None
    containing: str | None = Field(default=None, min_length=1, max_length=200)


class SetSlowmode(ActionBase):
    """Members may post once every ``seconds`` in the channel (0: off)."""

    type: Literal["slowmode"] = "slowmode"
    seconds: int = Field(ge=0, le=21600)


class LockChannel(ActionBase):
    """Members may not post in the channel (``locked``), or may again."""

    type: Literal["lock"] = "lock"
    locked: bool = True


Action = Annotated[
    DeleteMessage
    | WarnUser
    | TimeoutUser
    | KickUser
    | BanUser
    | LiftSanction
    | Reply
    | NotifyModerators
    | OpenCase
    | PurgeMessages
    | SetSlowmode
    | LockChannel,
    Field(discriminator="type"),
]

ACTION_ADAPTER: TypeAdapter[Action] = TypeAdapter(Action)
