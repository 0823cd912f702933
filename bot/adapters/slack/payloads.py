"""Typed shapes of the raw Slack payloads modtriage reads.

Only the keys modtriage uses are listed; Slack sends more. ``total=False`` marks keys Slack
omits in some variants (a message without files, an event without ``team``).
"""

from __future__ import annotations

from typing import Any, Literal, NotRequired, TypedDict

__all__ = [
    "BlockActionPayload",
    "EventCallback",
    "FileInfo",
    "MessageEvent",
    "MessageShortcutPayload",
    "SlashCommandPayload",
    "UserProfile",
    "ViewSubmissionPayload",
]


class UserProfile(TypedDict, total=False):
    display_name: str
    real_name: str
    name: str


class FileInfo(TypedDict, total=False):
    id: str
    name: str
    title: str
    mimetype: str
    filetype: str
    preview: str
    """The first lines of a text snippet or text file, when Slack provides them."""


class MessageEvent(TypedDict, total=False):
    """A ``message`` event (plain, thread reply, file share, edit, bot message, ...)."""

    type: Literal["message"]
    subtype: str
    channel: str
    channel_type: str
    user: str
    bot_id: str
    team: str
    text: str
    ts: str
    thread_ts: str
    edited: dict[str, str]
    files: list[FileInfo]
    user_profile: UserProfile
    hidden: bool
    message: MessageEvent
    """``message_changed``: the message as it is now."""
    previous_message: MessageEvent
    """``message_changed``: the message as it was."""


class EventCallback(TypedDict):
    """The Events API envelope (HTTP body, or a Socket Mode ``events_api`` payload)."""

    type: Literal["event_callback"]
    team_id: str
    event: MessageEvent
    event_id: NotRequired[str]
    event_time: NotRequired[int]
    api_app_id: NotRequired[str]


class _Team(TypedDict):
    id: str


class _User(TypedDict, total=False):
    id: str
    name: str
    username: str
    team_id: str


class _Channel(TypedDict, total=False):
    id: str
    name: str


class SlashCommandPayload(TypedDict, total=False):
    command: str
    text: str
    team_id: str
    channel_id: str
    user_id: str
    user_name: str
    response_url: str
    trigger_id: str


class BlockActionPayload(TypedDict, total=False):
    type: Literal["block_actions"]
    team: _Team
    user: _User
    channel: _Channel
    container: dict[str, Any]
    message: MessageEvent
    actions: list[dict[str, Any]]
    response_url: str
    trigger_id: str


class ViewSubmissionPayload(TypedDict, total=False):
    type: Literal["view_submission"]
    team: _Team
    user: _User
    view: dict[str, Any]
    trigger_id: str


class MessageShortcutPayload(TypedDict, total=False):
    type: Literal["message_action"]
    callback_id: str
    team: _Team
    user: _User
    channel: _Channel
    message: MessageEvent
    response_url: str
    trigger_id: str
