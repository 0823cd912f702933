"""The fake Discord's REST routes (:mod:`tests.discord.fake_discord` answers with them) and
the recorded payloads they are built from (``tests/fixtures/discord``): the bot's user and
application, command sync, messages, DMs, members, bans, auto-moderation rules, and the
interaction callbacks and webhooks a slash command answers through. The moderator toolkit's
routes are :mod:`tests.discord.fake_toolkit`'s."""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tests.discord.fake_toolkit import ROUTES as TOOLKIT_ROUTES

if TYPE_CHECKING:
    from tests.discord.fake_discord import Call, FakeDiscord

__all__ = ["ROUTES", "fixture"]

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "discord"

Json = Any
Handler = Callable[["FakeDiscord", re.Match[str], "Call"], Awaitable[tuple[int, Json]]]


def fixture(name: str) -> Json:
    return json.loads((FIXTURES / f"{name}.json").read_text())


async def _me(fake: FakeDiscord, match: re.Match[str], call: Call) -> tuple[int, Json]:
    return 200, fake.bot_user


async def _application(fake: FakeDiscord, match: re.Match[str], call: Call) -> tuple[int, Json]:
    return 200, fake.application


async def _gateway_bot(fake: FakeDiscord, match: re.Match[str], call: Call) -> tuple[int, Json]:
    payload = fixture("gateway_bot")
    payload["url"] = fake.gateway_url
    return 200, payload


async def _commands(fake: FakeDiscord, match: re.Match[str], call: Call) -> tuple[int, Json]:
    synced = []
    for command in call.body or []:
        synced.append(
            {
                "type": 1,
                "description": "",
                "options": [],
                "version": fake.snowflake(),
                **command,
                "id": fake.snowflake(),
                "application_id": fake.application["id"],
            }
        )
    return 200, synced


async def _send(fake: FakeDiscord, match: re.Match[str], call: Call) -> tuple[int, Json]:
    return 200, fake.stored_message(match["channel"], call.body or {})


async def _get_message(fake: FakeDiscord, match: re.Match[str], call: Call) -> tuple[int, Json]:
    message = fake.messages.get(match["message"])
    if message is None or message["channel_id"] != match["channel"]:
        return 404, {"message": "Unknown Message", "code": 10008}
    # REST messages carry neither the gateway's member object nor the guild id
    return 200, {k: v for k, v in message.items() if k not in {"member", "guild_id"}}


async def _history(fake: FakeDiscord, match: re.Match[str], call: Call) -> tuple[int, Json]:
    """As Discord pages a channel: newest first, ``before`` a message id, ``limit`` at most."""
    before = int(call.query.get("before") or 1 << 64)
    limit = int(call.query.get("limit") or 50)
    found = sorted(
        (
            m
            for m in fake.messages.values()
            if m["channel_id"] == match["channel"] and int(m["id"]) < before
        ),
        key=lambda m: -int(m["id"]),
    )
    return 200, [
        {k: v for k, v in m.items() if k not in {"member", "guild_id"}} for m in found[:limit]
    ]


async def _edit(fake: FakeDiscord, match: re.Match[str], call: Call) -> tuple[int, Json]:
    message = fake.messages.get(match["message"]) or fake.stored_message(match["channel"], {})
    message.update(
        {k: v for k, v in (call.body or {}).items() if k in {"content", "embeds", "components"}}
    )
    message["edited_timestamp"] = datetime.now(UTC).isoformat()
    return 200, message


async def _no_content(fake: FakeDiscord, match: re.Match[str], call: Call) -> tuple[int, Json]:
    return 204, None


async def _dm(fake: FakeDiscord, match: re.Match[str], call: Call) -> tuple[int, Json]:
    user_id = str(call.body["recipient_id"])
    recipient = next(
        (m["user"] for m in fake.guild["members"] if m["user"]["id"] == user_id),
        {"id": user_id, "username": "someone", "discriminator": "0", "avatar": None},
    )
    return 200, {
        "id": fake.dm_channel_id(user_id),
        "type": 1,
        "recipients": [recipient],
        "last_message_id": None,
        "flags": 0,
    }


def _guild_member(fake: FakeDiscord, user_id: str) -> Json | None:
    return next((m for m in fake.guild["members"] if m["user"]["id"] == user_id), None)


async def _get_member(fake: FakeDiscord, match: re.Match[str], call: Call) -> tuple[int, Json]:
    member = _guild_member(fake, match["user"])
    if member is None:
        return 404, {"message": "Unknown Member", "code": 10007}
    return 200, member


async def _edit_member(fake: FakeDiscord, match: re.Match[str], call: Call) -> tuple[int, Json]:
    member = _guild_member(fake, match["user"])
    if member is None:
        return 404, {"message": "Unknown Member", "code": 10007}
    member.update(call.body or {})
    return 200, member


async def _callback(fake: FakeDiscord, match: re.Match[str], call: Call) -> tuple[int, Json]:
    kind = call.body["type"]
    data = call.body.get("data") or {}
    interaction = {
        "id": match["interaction"],
        "type": kind,
        "response_message_loading": kind == 5,
        "response_message_ephemeral": bool((data.get("flags") or 0) & 64),
    }
    resource: Json = {"type": kind}
    if kind in {4, 7}:
        original = fake.interaction_messages.get(match["token"])
        if kind == 7 and original is not None:
            original.update(
                {k: v for k, v in data.items() if k in {"content", "embeds", "components"}}
            )
            message = original
        else:
            message = fake.stored_message("1200000000000000011", data)
            fake.interaction_messages[match["token"]] = message
        interaction["response_message_id"] = message["id"]
        resource["message"] = message
    return 200, {"interaction": interaction, "resource": resource}


async def _original(fake: FakeDiscord, match: re.Match[str], call: Call) -> tuple[int, Json]:
    message = fake.interaction_messages.get(match["token"]) or fake.stored_message(
        "1200000000000000011", {}
    )
    message.update(
        {k: v for k, v in (call.body or {}).items() if k in {"content", "embeds", "components"}}
    )
    return 200, message


async def _followup(fake: FakeDiscord, match: re.Match[str], call: Call) -> tuple[int, Json]:
    return 200, fake.stored_message("1200000000000000011", call.body or {})


async def _automod_rules(fake: FakeDiscord, match: re.Match[str], call: Call) -> tuple[int, Json]:
    return 200, list(fake.automod_rules.values())


async def _automod_save(fake: FakeDiscord, match: re.Match[str], call: Call) -> tuple[int, Json]:
    rule_id = match["rule"] or fake.snowflake()
    rule = fake.automod_rules.get(rule_id) or {
        "id": rule_id, "guild_id": fake.guild_id, "creator_id": fake.bot_user["id"],
        "trigger_type": call.body.get("trigger_type", 1), "exempt_channels": [],
    }  # fmt: skip
    rule.update(call.body)
    rule["trigger_type"] = rule.get("trigger_type", 1)
    fake.automod_rules[rule_id] = rule
    return 200, rule


ROUTES: list[tuple[str, re.Pattern[str], Handler]] = [
    (m, re.compile(p), h)
    for m, p, h in [
        *TOOLKIT_ROUTES,
        ("GET", r"/users/@me", _me),
        ("GET", r"/oauth2/applications/@me", _application),
        ("GET", r"/gateway/bot", _gateway_bot),
        ("PUT", r"/applications/\d+/commands", _commands),
        ("PUT", r"/applications/\d+/guilds/\d+/commands", _commands),
        ("POST", r"/channels/(?P<channel>\d+)/messages", _send),
        ("GET", r"/channels/(?P<channel>\d+)/messages", _history),
        ("GET", r"/channels/(?P<channel>\d+)/messages/(?P<message>\d+)", _get_message),
        ("PATCH", r"/channels/(?P<channel>\d+)/messages/(?P<message>\d+)", _edit),
        ("POST", r"/users/@me/channels", _dm),
        ("GET", r"/guilds/\d+/members/(?P<user>\d+)", _get_member),
        ("PATCH", r"/guilds/\d+/members/(?P<user>\d+)", _edit_member),
        ("DELETE", r"/guilds/\d+/members/\d+", _no_content),
        ("PUT", r"/guilds/\d+/bans/\d+", _no_content),
        ("DELETE", r"/guilds/\d+/bans/\d+", _no_content),
        ("DELETE", r"/users/@me/guilds/\d+", _no_content),
        ("GET", r"/guilds/\d+/auto-moderation/rules", _automod_rules),
        ("POST", r"/guilds/\d+/auto-moderation/rules(?P<rule>)", _automod_save),
        ("PATCH", r"/guilds/\d+/auto-moderation/rules/(?P<rule>\d+)", _automod_save),
        ("POST", r"/interactions/(?P<interaction>\d+)/(?P<token>[^/]+)/callback", _callback),
        ("PATCH", r"/webhooks/\d+/(?P<token>[^/]+)/messages/@original", _original),
        ("POST", r"/webhooks/\d+/(?P<token>[^/]+)", _followup),
    ]
]
