"""Recorded Slack events through the pure ``to_message``: what gets moderated, and as what."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot.adapters.slack.inbound import parse_permalink, shortcut_message, to_message
from bot.errors import MalformedMessage
from tests.slack.conftest import payload

pytestmark = pytest.mark.slack


def test_a_channel_message_becomes_a_message() -> None:
    message = to_message(payload("event_message"))
    assert message is not None
    assert (message.platform, message.workspace, message.channel) == (
        "slack",
        "T0TEAM",
        "C0GENERAL",
    )
    assert (message.id, message.author.id, message.text) == (
        "1764320000.000100",
        "U0MALLORY",
        "shut up you f4gg0t",
    )
    assert message.ts == datetime(2025, 11, 28, 8, 53, 20, 100, tzinfo=UTC)
    assert message.key == "slack:T0TEAM:C0GENERAL:1764320000.000100"
    assert not message.edited
    assert message.thread is None
    assert not message.author.is_bot


def test_a_thread_reply_in_a_private_channel_keeps_thread_and_mentions() -> None:
    message = to_message(payload("event_thread_reply"))
    assert message is not None
    assert (message.channel, message.thread, message.mentions) == (
        "C0PRIVATE",
        "1764320000.000200",
        ("U0BOB",),
    )


def test_an_edit_is_moderated_again_under_its_own_key() -> None:
    message = to_message(payload("event_message_changed"))
    assert message is not None
    assert message.edited
    assert message.text == "edited: you f4gg0t"
    assert message.id == "1764320000.000400"
    assert message.key.startswith("slack:T0TEAM:C0GENERAL:1764320000.000400@")


def test_file_share_carries_the_text_parts_of_its_files() -> None:
    message = to_message(payload("event_file_share"))
    assert message is not None
    assert message.text == (
        "notes from the call\ncall notes\n1. ship the release\n2. fix the installer\nwhiteboard"
    )


def test_other_bots_are_marked_as_bots() -> None:
    message = to_message(payload("event_bot_message"))
    assert message is not None
    assert message.author.is_bot
    assert message.author.id == "B0DEPLOY"


@pytest.mark.parametrize(
    "name", ["event_channel_join", "event_im", "event_unfurl_changed"], ids=["join", "dm", "unfurl"]
)
def test_nothing_to_moderate(name: str) -> None:
    assert to_message(payload(name)) is None


def test_a_message_without_ts_is_a_clear_error() -> None:
    with pytest.raises(MalformedMessage, match="no 'ts'"):
        to_message(payload("event_malformed"))


def test_a_reported_message_comes_from_the_shortcut_payload() -> None:
    message = shortcut_message(payload("message_shortcut_report"))
    assert (message.channel, message.id, message.author.id) == (
        "C0GENERAL",
        "1764320000.000950",
        "U0EVE",
    )


@pytest.mark.parametrize(
    ("link", "expected"),
    [
        (
            "https://test.slack.com/archives/C0GENERAL/p1764320000000100",
            ("C0GENERAL", "1764320000.000100", None),
        ),
        (
            "<https://test.slack.com/archives/C0GENERAL/p1764320050000300?thread_ts=1764320000.000200&cid=C0GENERAL>",
            ("C0GENERAL", "1764320050.000300", "1764320000.000200"),
        ),
    ],
)
def test_message_links_are_parsed(link: str, expected: tuple[str, str, str | None]) -> None:
    assert parse_permalink(link) == expected


@pytest.mark.parametrize(
    "link", ["https://evil.example/archives/C1/p1764320000000100", "C0GENERAL", ""]
)
def test_other_links_are_refused(link: str) -> None:
    with pytest.raises(ValueError, match="not a Slack message link"):
        parse_permalink(link)
