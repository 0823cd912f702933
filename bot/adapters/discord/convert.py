"""Discord payloads in, the one internal :class:`~bot.message.Message` out.

``to_message`` and ``automod_to_message`` are pure: no I/O, no clock, no discord.py objects.
``payload_of`` and ``automod_payload_of`` go the other way round for the events discord.py
hands over as objects (MESSAGE_CREATE, AutoMod executions), copying only what is needed.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime

import discord
from pydantic import ValidationError

from bot.adapters.discord.payloads import (
    AutoModActionPayload,
    MemberPayload,
    MessagePayload,
    UserPayload,
)
from bot.errors import MalformedMessage
from bot.message import Author, Message

__all__ = [
    "automod_payload_of",
    "automod_to_message",
    "parse_message_link",
    "payload_of",
    "permalink",
    "snowflake_time",
    "to_message",
]

_DISCORD_EPOCH_MS = 1_420_070_400_000
_MESSAGE_LINK = re.compile(
    r"^https://(?:(?:ptb|canary)\.)?discord(?:app)?\.com/channels/(\d+)/(\d+)/(\d+)/?$"
)


def snowflake_time(snowflake: str) -> datetime:
    """When a Discord id was minted (ids are time-based)."""
    return datetime.fromtimestamp(((int(snowflake) >> 22) + _DISCORD_EPOCH_MS) / 1000, tz=UTC)


def permalink(guild_id: str, channel_id: str, message_id: str) -> str:
    return f"https://discord.com/channels/{guild_id}/{channel_id}/{message_id}"


def parse_message_link(link: str) -> tuple[str, str, str]:
    """``(guild, channel, message)`` ids of a Discord message link ("Copy Message Link").

    Raises:
        ValueError: the text is not a Discord message link.
    """
    match = _MESSAGE_LINK.match(link.strip().strip("<>"))
    if match is None:
        raise ValueError(
            f"{link!r} is not a Discord message link (use Copy Message Link on a message)"
        )
    guild, channel, message = match.groups()
    return guild, channel, message


def _timestamp(payload: MessagePayload) -> datetime:
    raw = payload.get("edited_timestamp") or payload.get("timestamp")
    if raw:
        try:
            return datetime.fromisoformat(raw)
        except ValueError:
            pass
    return snowflake_time(payload["id"])


def _invalid(exc: ValidationError, what: str) -> MalformedMessage:
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first["loc"]) or "(message)"
    return MalformedMessage(f"Discord {what} cannot become a Message: {where}: {first['msg']}")


def to_message(
    payload: MessagePayload,
    *,
    role_names: Mapping[str, str],
    guild_id: str | None = None,
    thread: str | None = None,
    edited: bool = False,
) -> Message:
    """Normalise a MESSAGE_CREATE or MESSAGE_UPDATE payload.

    ``role_names`` maps the guild's role ids to names; the author's roles become lower-cased
    names so that policy role overrides (``moderator``, ``admin``) match Discord role names.
    ``thread`` is the thread's id when the message was posted in one.

    Raises:
        MalformedMessage: the payload lacks a guild, an id, an author or content.
    """
    try:
        author = payload["author"]
        guild = guild_id or payload.get("guild_id")
        if not guild:
            raise MalformedMessage(f"Discord message {payload.get('id')} is not from a guild")
        member = payload.get("member") or MemberPayload()
        roles = tuple(
            role_names[role].lower() for role in member.get("roles", []) if role in role_names
        )
        return Message(
            platform="discord",
            workspace=guild,
            channel=payload["channel_id"],
            id=payload["id"],
            author=Author(
                id=author["id"],
                name=member.get("nick") or author.get("global_name") or author["username"],
                roles=roles,
                is_bot=bool(author.get("bot")) or "webhook_id" in payload,
            ),
            text=payload["content"],
            ts=_timestamp(payload),
            thread=thread,
            permalink=permalink(guild, payload["channel_id"], payload["id"]),
            mentions=tuple(user["id"] for user in payload.get("mentions", [])),
            edited=edited,
        )
    except KeyError as exc:
        raise MalformedMessage(f"Discord message payload lacks {exc.args[0]!r}") from exc
    except ValidationError as exc:
        raise _invalid(exc, "message") from exc


def automod_to_message(payload: AutoModActionPayload, *, role_names: Mapping[str, str]) -> Message:
    """A message Discord's AutoMod acted on. When AutoMod blocked it, it never reached the
    channel and has no id; it is keyed by the rule and the alert instead, so the pipeline still
    counts it against the member (strikes, history) and any delete finds nothing to delete."""
    del role_names  # AutoMod events carry no member roles
    try:
        message_id = payload.get("message_id") or (
            f"automod-{payload['rule_id']}-{payload.get('alert_system_message_id') or ''}"
            f"-{payload['user_id']}"
        )
        channel = payload.get("channel_id") or "automod"
        return Message(
            platform="discord",
            workspace=payload["guild_id"],
            channel=channel,
            id=message_id,
            author=Author(id=payload["user_id"]),
            text=payload["content"],
            ts=snowflake_time(payload.get("alert_system_message_id") or payload["rule_id"]),
        )
    except KeyError as exc:
        raise MalformedMessage(f"Discord AutoMod payload lacks {exc.args[0]!r}") from exc
    except ValidationError as exc:
        raise _invalid(exc, "AutoMod action") from exc


def _user(user: discord.abc.User) -> UserPayload:
    return UserPayload(
        id=str(user.id), username=user.name, global_name=user.global_name, bot=user.bot
    )


def payload_of(message: discord.Message) -> MessagePayload:
    """The payload fields of a message discord.py already parsed."""
    payload = MessagePayload(
        id=str(message.id),
        channel_id=str(message.channel.id),
        author=_user(message.author),
        content=message.content,
        timestamp=message.created_at.isoformat(),
        edited_timestamp=message.edited_at.isoformat() if message.edited_at else None,
        mentions=[_user(user) for user in message.mentions],
    )
    if message.guild is not None:
        payload["guild_id"] = str(message.guild.id)
    if isinstance(message.author, discord.Member):
        payload["member"] = MemberPayload(
            roles=[str(role.id) for role in message.author.roles if not role.is_default()],
            nick=message.author.nick,
        )
    if message.webhook_id is not None:
        payload["webhook_id"] = str(message.webhook_id)
    return payload


def automod_payload_of(execution: discord.AutoModAction) -> AutoModActionPayload:
    payload = AutoModActionPayload(
        guild_id=str(execution.guild_id),
        rule_id=str(execution.rule_id),
        user_id=str(execution.user_id),
        content=execution.content,
        action={"type": execution.action.type.value},
        matched_keyword=execution.matched_keyword,
    )
    if execution.channel_id is not None:
        payload["channel_id"] = str(execution.channel_id)
    if execution.message_id is not None:
        payload["message_id"] = str(execution.message_id)
    if execution.alert_system_message_id is not None:
        payload["alert_system_message_id"] = str(execution.alert_system_message_id)
    return payload
