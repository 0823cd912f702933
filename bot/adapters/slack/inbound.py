"""Slack payloads in, the one internal :class:`~bot.message.Message` out. Pure: no I/O."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from urllib.parse import parse_qs, urlparse

from pydantic import ValidationError

from bot.adapters.slack.payloads import EventCallback, MessageEvent, MessageShortcutPayload
from bot.errors import MalformedMessage
from bot.message import Author, Message

__all__ = [
    "MODERATED_SUBTYPES",
    "history_message",
    "parse_permalink",
    "shortcut_message",
    "to_message",
]

#: Message subtypes that carry something a member wrote. Joins, topic changes, deletions and
#: the like carry nothing to moderate and are skipped.
MODERATED_SUBTYPES: frozenset[str | None] = frozenset(
    {None, "file_share", "thread_broadcast", "me_message", "bot_message", "message_changed"}
)
#: Channel types moderated: public ("channel") and private ("group") channels the app is in.
_CHANNEL_TYPES = frozenset({"channel", "group"})
_MENTION = re.compile(r"<@([UW][A-Z0-9]+)(?:\|[^>]*)?>")
_PERMALINK_PATH = re.compile(r"^/archives/([CGD][A-Z0-9]+)/p(\d{10})(\d{6})$")
_PREVIEW_FILETYPES = frozenset({"text", "markdown", "post", "snippet", "csv", "json", "yaml"})


def _ts(value: str) -> datetime:
    try:
        return datetime.fromtimestamp(float(value), tz=UTC)
    except (TypeError, ValueError) as exc:
        raise MalformedMessage(f"message ts {value!r} is not a Slack timestamp") from exc


def _text(event: MessageEvent) -> str:
    """The message text plus the text parts of shared files (title and text preview)."""
    parts = [event.get("text", "")]
    for file in event.get("files", []):
        title = file.get("title") or file.get("name") or ""
        if title:
            parts.append(title)
        preview = file.get("preview")
        if preview and (
            file.get("filetype") in _PREVIEW_FILETYPES
            or file.get("mimetype", "").startswith("text/")
        ):
            parts.append(preview)
    return "\n".join(p for p in parts if p)


def _author(event: MessageEvent) -> Author:
    user = event.get("user") or event.get("bot_id")
    if not user:
        raise MalformedMessage("message event has neither 'user' nor 'bot_id'")
    profile = event.get("user_profile", {})
    name = profile.get("display_name") or profile.get("real_name") or profile.get("name") or ""
    is_bot = "bot_id" in event or event.get("subtype") == "bot_message"
    return Author(id=user, name=name, is_bot=is_bot)


def _build(
    *, team: str, channel: str, event: MessageEvent, edited: bool, ts: str | None = None
) -> Message:
    message_ts = ts or event.get("ts")
    if not message_ts:
        raise MalformedMessage("message event has no 'ts'")
    thread = event.get("thread_ts")
    try:
        return Message(
            platform="slack",
            workspace=team,
            channel=channel,
            id=message_ts,
            author=_author(event),
            text=_text(event),
            ts=_ts(message_ts),
            thread=thread if thread and thread != message_ts else None,
            mentions=tuple(dict.fromkeys(_MENTION.findall(event.get("text", "")))),
            edited=edited,
        )
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "(message)"
        raise MalformedMessage(f"slack message: {where}: {first['msg']}") from exc


def to_message(body: EventCallback) -> Message | None:
    """The message an Events API envelope carries, or None when there is nothing to moderate
    (a join, a deletion, a DM, an edit that changed no text such as a link unfurl).

    Bot messages come back with ``author.is_bot`` set; the caller decides whether to keep them.

    Raises:
        MalformedMessage: the envelope claims to be a message but lacks what one needs.
    """
    event = body.get("event")
    if not isinstance(event, dict) or event.get("type") != "message":
        return None
    subtype = event.get("subtype")
    if subtype not in MODERATED_SUBTYPES or event.get("channel_type", "channel") not in (
        _CHANNEL_TYPES
    ):
        return None
    channel = event.get("channel")
    if not channel:
        raise MalformedMessage("message event has no 'channel'")
    team = event.get("team") or body.get("team_id")
    if subtype == "message_changed":
        current = event.get("message")
        if not isinstance(current, dict):
            raise MalformedMessage("message_changed event has no 'message'")
        before = event.get("previous_message", {})
        if _text(current) == _text(before):
            return None
        team = current.get("team") or team
        if not team:
            raise MalformedMessage("message event has no team")
        return _build(team=team, channel=channel, event=current, edited=True)
    if not team:
        raise MalformedMessage("message event has no team")
    return _build(team=team, channel=channel, event=event, edited=False)


def shortcut_message(payload: MessageShortcutPayload) -> Message:
    """The message a member reported with the "Report message" shortcut.

    Raises:
        MalformedMessage: the payload lacks the message, channel or team.
    """
    message = payload.get("message")
    channel = payload.get("channel", {}).get("id")
    team = payload.get("team", {}).get("id")
    if not isinstance(message, dict) or not channel or not team:
        raise MalformedMessage("message shortcut without message, channel or team")
    return _build(team=message.get("team") or team, channel=channel, event=message, edited=False)


def history_message(event: MessageEvent, *, team: str, channel: str, permalink: str) -> Message:
    """A message as ``conversations.history`` or ``conversations.replies`` return it.

    Raises:
        MalformedMessage: it lacks what a message needs.
    """
    message = _build(team=event.get("team") or team, channel=channel, event=event, edited=False)
    return message.model_copy(update={"permalink": permalink})


def parse_permalink(link: str) -> tuple[str, str, str | None]:
    """``(channel, ts, thread_ts)`` of a Slack message link as "Copy link" gives it.

    Accepts the bare URL or Slack's escaped form ``<https://...|label>``.

    Raises:
        ValueError: the text is not a Slack message link.
    """
    link = link.strip().removeprefix("<").removesuffix(">").split("|", 1)[0]
    url = urlparse(link)
    match = _PERMALINK_PATH.match(url.path)
    if url.scheme != "https" or not url.hostname or not url.hostname.endswith(".slack.com"):
        match = None
    if match is None:
        raise ValueError(f"{link!r} is not a Slack message link (use 'Copy link' on a message)")
    channel, seconds, micros = match.groups()
    thread = parse_qs(url.query).get("thread_ts", [None])[0]
    return channel, f"{seconds}.{micros}", thread
