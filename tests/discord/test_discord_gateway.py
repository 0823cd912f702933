"""Connecting: intents, command sync, and which gateway messages become Messages."""

from __future__ import annotations

import asyncio

import pytest

from bot.adapters.discord import intents
from bot.connection import Redis
from bot.metrics import Metrics
from bot.policy import Policy
from bot.settings import Settings
from tests.discord.conftest import DiscordStack
from tests.discord.fake_discord import FakeDiscord, fixture

pytestmark = pytest.mark.discord


async def _ingested(stack: DiscordStack, count: int) -> None:
    async with asyncio.timeout(10):
        while len(await stack.ingested()) < count:
            await asyncio.sleep(0.01)


async def test_connects_with_only_the_intents_moderation_needs(stack: DiscordStack) -> None:
    [identify] = stack.fake.identifies
    assert identify["intents"] == intents().value
    assert identify["token"] == "fake-token"
    assert identify["shard"] == [0, 1]
    wanted = intents()
    assert wanted.message_content
    assert wanted.guild_messages
    assert wanted.guilds
    assert not wanted.members  # privileged: asked for only when raid protection is on
    assert intents(members=True).members
    assert not wanted.presences
    assert not wanted.dm_messages


async def test_mod_commands_are_guild_only_for_moderators_and_report_is_for_everyone(
    stack: DiscordStack,
) -> None:
    fake = stack.fake
    [sync] = fake.calls("PUT", rf"/applications/\d+/guilds/{fake.guild_id}/commands")
    commands = {c["name"]: c for c in sync.body}
    assert set(commands) == {"mod", "Report message", "Warn", "Timeout"}
    mod = commands["mod"]
    assert int(mod["default_member_permissions"]) == 1 << 40  # Moderate Members
    assert mod["contexts"] == [0]  # guilds only
    assert {o["name"] for o in mod["options"]} == {
        "queue",
        "case",
        "history",
        "test",
        "stats",
        "policy",
        "shadow",
        "ask",
        "faq",
        "summary",
        # the moderator's toolkit (bot/adapters/discord/toolkit.py)
        "warn",
        "timeout",
        "untimeout",
        "kick",
        "ban",
        "unban",
        "purge",
        "slowmode",
        "lock",  # lock off:True unlocks: a group holds 25 subcommands at most
        "note",
        "modlogs",
        # configure from chat, and what a candidate policy would have done
        "setup",
        "channel",
        "backtest",
        # raid mode (bot/adapters/discord/raid.py)
        "raid",
    }
    report = commands["Report message"]
    assert report["type"] == 3
    assert report.get("default_member_permissions") is None
    assert fake.calls("PUT", r"/applications/\d+/commands") == []  # nothing global in dev


async def test_messages_edits_and_threads_are_ingested_but_not_the_bots_own(
    stack: DiscordStack,
) -> None:
    fake = stack.fake
    first = await fake.say("hello everyone", user="alice")
    await _ingested(stack, 1)
    await fake.say("I posted the notes in the thread", user="morgan", channel="help with installer")
    own = await fake.say("placeholder", user="alice")
    own_payload = dict(own, id=fake.snowflake(), author=fake.bot_user)
    await fake.dispatch("MESSAGE_CREATE", own_payload)
    await _ingested(stack, 3)
    await fake.edit(first, "hello everyone, you f4gg0t")

    await fake.wait_for("DELETE", rf"/channels/{first['channel_id']}/messages/{first['id']}")
    ingested = await stack.ingested()
    assert [(m["text"], m["edited"]) for m in ingested] == [
        ("hello everyone", False),
        ("I posted the notes in the thread", False),
        ("placeholder", False),
        ("hello everyone, you f4gg0t", True),
    ]
    thread = fake.channel_id("help with installer")
    assert ingested[1]["channel"] == ingested[1]["thread"] == thread
    assert ingested[1]["author"]["roles"] == ["moderator"]
    assert ingested[0]["permalink"] == (
        f"https://discord.com/channels/{fake.guild_id}/{first['channel_id']}/{first['id']}"
    )


async def test_a_message_automod_blocked_still_counts_against_the_member(
    stack: DiscordStack,
) -> None:
    fake = stack.fake
    execution = fixture("automod_action")
    execution["alert_system_message_id"] = fake.snowflake()
    await fake.dispatch("AUTO_MODERATION_ACTION_EXECUTION", execution)
    alert = dict(execution, action={"type": 2, "metadata": {"channel_id": "1"}})
    await fake.dispatch("AUTO_MODERATION_ACTION_EXECUTION", alert)  # same message, its alert

    card = await fake.wait_for("POST", rf"/channels/{fake.channel_id('mod-queue')}/messages")
    assert "spam" in card[0].body["embeds"][0]["title"]
    [message] = await stack.ingested()
    assert message["text"] == execution["content"]
    assert message["id"].startswith("automod-")
    assert fake.calls("DELETE", r".*") == []  # nothing to delete: it was never posted


async def test_deny_lists_are_mirrored_into_one_automod_rule_kept_up_to_date(
    fake: FakeDiscord,
    discord_errors: object,
    redis: Redis,
    settings: Settings,
    default_policy: Policy,
    metrics: Metrics,
) -> None:
    stack = DiscordStack(
        fake=fake, redis=redis, settings=settings, policy=default_policy, metrics=metrics,
        discord_automod_mirror=True,
    )  # fmt: skip
    await stack.start()
    try:
        [created] = await fake.wait_for("POST", r"/guilds/\d+/auto-moderation/rules")
        assert created.body["name"] == "modtriage deny list"
        assert created.body["event_type"] == 1  # message send
        assert created.body["trigger_type"] == 1  # keyword
        keywords = created.body["trigger_metadata"]["keyword_filter"]
        assert set(default_policy.categories["hate"].deny) <= set(keywords)
        assert created.body["actions"][0]["type"] == 1  # block the message
        assert created.body["exempt_roles"] == [
            next(r["id"] for r in fake.guild["roles"] if r["name"] == "Moderator")
        ]

        await stack.restart()  # the rule is updated in place, never duplicated
        [updated] = await fake.wait_for("PATCH", r"/guilds/\d+/auto-moderation/rules/\d+")
        assert updated.body["trigger_metadata"]["keyword_filter"] == keywords
        assert len(fake.calls("POST", r"/guilds/\d+/auto-moderation/rules")) == 1
    finally:
        await stack.close()
