"""The parts of Discord's gateway payloads that modtriage reads, typed.

These follow Discord's API v10 objects (and discord.py's ``discord/types/``) but list only the
fields :func:`bot.adapters.discord.convert.to_message` uses; anything else a payload carries is
ignored. Recorded examples live under ``tests/fixtures/discord/``.
"""

from __future__ import annotations

from typing import NotRequired, TypedDict

__all__ = [
    "AutoModActionPayload",
    "MemberPayload",
    "MessagePayload",
    "UserPayload",
]


class UserPayload(TypedDict):
    id: str
    username: str
    global_name: NotRequired[str | None]
    bot: NotRequired[bool]


class MemberPayload(TypedDict, total=False):
    """The partial member sent with a guild message (no ``user``: that is ``author``)."""

    roles: list[str]
    nick: str | None


class MessagePayload(TypedDict):
    """MESSAGE_CREATE / MESSAGE_UPDATE ``d``."""

    id: str
    channel_id: str
    author: UserPayload
    content: str
    guild_id: NotRequired[str]
    member: NotRequired[MemberPayload]
    timestamp: NotRequired[str]
    edited_timestamp: NotRequired[str | None]
    mentions: NotRequired[list[UserPayload]]
    webhook_id: NotRequired[str]
    type: NotRequired[int]


class AutoModActionPayload(TypedDict):
    """AUTO_MODERATION_ACTION_EXECUTION ``d``: Discord's AutoMod acted on a message.

    ``message_id`` is absent when the action blocked the message before it was sent.
    """

    guild_id: str
    rule_id: str
    user_id: str
    content: str
    action: dict[str, object]
    channel_id: NotRequired[str]
    message_id: NotRequired[str]
    alert_system_message_id: NotRequired[str]
    matched_keyword: NotRequired[str | None]
