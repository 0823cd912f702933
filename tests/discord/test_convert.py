"""to_message: recorded Discord payloads in, the one internal Message out (pure, no I/O)."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any

import pytest

from bot.adapters.discord.convert import automod_to_message, snowflake_time, to_message
from bot.errors import MalformedMessage
from tests.discord.fake_discord import fixture

pytestmark = pytest.mark.discord

ROLES = {"1200000000000000101": "Moderator", "1200000000000000102": "modtriage"}


def _payload(**changes: Any) -> Any:
    payload = copy.deepcopy(fixture("message_create"))
    payload.update(changes)
    return payload


def test_a_guild_message_becomes_a_message() -> None:
    message = to_message(_payload(content="hello there"), role_names=ROLES)
    assert message.platform == "discord"
    assert message.workspace == "1200000000000000001"
    assert message.channel == "1200000000000000010"
    assert message.id == "1311000000000000000"
    assert message.text == "hello there"
    assert message.author.id == "1300000000000000002"
    assert message.author.name == "Mallory"
    assert message.author.roles == ()
    assert not message.author.is_bot
    assert message.ts == datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
    assert message.permalink == (
        "https://discord.com/channels/1200000000000000001/1200000000000000010/1311000000000000000"
    )
    assert message.thread is None
    assert not message.edited


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"member": {"roles": ["1200000000000000101"], "nick": "Mo"}}, ("moderator",)),
        ({"member": {"roles": ["999", "1200000000000000102"]}}, ("modtriage",)),
        ({"member": {}}, ()),
    ],
)
def test_roles_become_lower_case_names_the_policy_can_match(
    change: dict[str, Any], expected: tuple[str, ...]
) -> None:
    assert to_message(_payload(**change), role_names=ROLES).author.roles == expected


@pytest.mark.parametrize(
    "change",
    [
        {"author": {"id": "1", "username": "hook", "bot": True}},
        {"webhook_id": "777"},
    ],
)
def test_bots_and_webhooks_are_marked(change: dict[str, Any]) -> None:
    assert to_message(_payload(**change), role_names=ROLES).author.is_bot


def test_an_edit_has_its_own_key_so_it_is_decided_again() -> None:
    original = to_message(fixture("message_create"), role_names=ROLES)
    edited = to_message(fixture("message_update"), role_names=ROLES, edited=True)
    assert edited.edited
    assert edited.key != original.key
    assert edited.key.startswith(original.key + "@")
    assert edited.ts == datetime(2026, 11, 27, 12, 1, tzinfo=UTC)


def test_a_thread_message_keeps_its_thread() -> None:
    message = to_message(
        _payload(channel_id="1200000000000000012"), role_names=ROLES, thread="1200000000000000012"
    )
    assert message.channel == message.thread == "1200000000000000012"


def test_a_missing_timestamp_falls_back_to_the_id() -> None:
    payload = _payload()
    del payload["timestamp"]
    assert to_message(payload, role_names=ROLES).ts == snowflake_time(payload["id"])


@pytest.mark.parametrize(
    ("payload", "problem"),
    [
        ({k: v for k, v in fixture("message_create").items() if k != "author"}, "'author'"),
        ({k: v for k, v in fixture("message_create").items() if k != "guild_id"}, "not from a"),
        ({**fixture("message_create"), "channel_id": ""}, "channel"),
    ],
)
def test_what_cannot_become_a_message_says_why(payload: Any, problem: str) -> None:
    with pytest.raises(MalformedMessage, match=problem):
        to_message(payload, role_names=ROLES)


def test_a_message_automod_blocked_is_keyed_by_its_rule_and_alert() -> None:
    payload = fixture("automod_action")
    payload["alert_system_message_id"] = "1576000000000000000"
    message = automod_to_message(payload, role_names=ROLES)
    assert message.id == "automod-1250000000000000001-1576000000000000000-1300000000000000002"
    assert message.text == payload["content"]
    assert message.author.id == "1300000000000000002"
    assert message.ts == snowflake_time("1576000000000000000")
