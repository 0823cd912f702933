"""Alerts that always reach someone, and configuring from chat, on Discord, read as a chat
log: a moderator types ``/mod setup``, ``/mod channel``, ``/mod policy show``; a member posts;
we assert what the fake Discord received and what Redis holds."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from structlog.testing import capture_logs

from bot.connection import Redis
from bot.metrics import Metrics
from bot.policy import Policy
from bot.settings import Settings
from bot.tenant import Tenant
from tests.discord.conftest import MODERATOR_ROLE, DiscordStack
from tests.discord.fake_discord import FakeDiscord
from tests.discord.fake_setup import slash_setup

pytestmark = [pytest.mark.discord, pytest.mark.toolkit]

CRY = "I can't go on, I'm going to kill myself tonight"


@pytest.fixture
def default_policy(default_policy: Policy) -> Policy:
    """This guild's moderators, no moderators' channel in the policy, and a self-harm phrase
    the rules-only classifier knows (no model runs in these tests)."""
    self_harm = default_policy.categories["self_harm"].model_copy(update={"deny": ("kill myself",)})
    mods = default_policy.moderators.model_copy(update={"channel": None})
    categories = {**default_policy.categories, "self_harm": self_harm}
    return default_policy.model_copy(update={"categories": categories, "moderators": mods})


@pytest.fixture
async def bare(
    fake: FakeDiscord,
    discord_errors: Any,
    redis: Redis,
    settings: Settings,
    default_policy: Policy,
    metrics: Metrics,
) -> AsyncIterator[tuple[DiscordStack, list[dict[str, Any]]]]:
    """A guild with no moderators' channel anywhere (setting, policy, /mod setup); with the
    log lines of its start-up."""
    stack = DiscordStack(
        fake=fake, redis=redis, settings=settings, policy=default_policy, metrics=metrics,
        discord_mod_channel=None,
    )  # fmt: skip
    with capture_logs() as logs:
        await stack.start()
        await fake.wait_for("PUT", r"/applications/\d+/guilds/\d+/commands")
    try:
        yield stack, logs
    finally:
        await stack.close()


async def _said(fake: FakeDiscord, interaction: Any) -> str:
    [answer] = await fake.answered(interaction)
    data = answer.body.get("data", answer.body)
    return str(data.get("content") or "")


def _sent(fake: FakeDiscord, channel: str) -> list[Any]:
    return fake.calls("POST", rf"/channels/{channel}/messages")


async def test_setup_sends_alerts_to_the_channel_pinging_only_that_role(
    stack: DiscordStack,
) -> None:
    fake = stack.fake
    general = fake.channel_id("general")
    asked = await slash_setup(fake, channel="general", role="Moderator")
    assert (
        await _said(fake, asked) == f"Alerts now go to <#{general}>, pinging <@&{MODERATOR_ROLE}>."
    )
    stored = await stack.redis.hgetall(
        stack.streams.tenant(Tenant(platform="discord", workspace=fake.guild_id)).alerts
    )
    assert stored[b"channel"] == general.encode()
    assert stored[b"role"] == MODERATOR_ROLE.encode()
    assert stored[b"by"].startswith(b"discord:")
    assert stored[b"at"]

    await fake.say("shut up you f4gg0t", user="mallory")
    card = next(
        c
        for c in await fake.wait_for("POST", rf"/channels/{general}/messages")
        if c.body.get("embeds")
    )
    assert card.body["content"].startswith(f"<@&{MODERATOR_ROLE}>")
    assert card.body["allowed_mentions"] == {"parse": [], "roles": [int(MODERATOR_ROLE)]}
    assert _sent(fake, fake.channel_id("mod-queue")) == []  # the setting's channel is replaced


async def test_a_member_cannot_run_setup(stack: DiscordStack) -> None:
    asked = await slash_setup(stack.fake, channel="general", role=None, user="alice")
    assert "may not set where alerts go: moderators only" in await _said(stack.fake, asked)
    tenant = Tenant(platform="discord", workspace=stack.fake.guild_id)
    assert await stack.moderation.alerts_of(tenant) is None


async def test_another_guilds_setting_does_not_leak(stack: DiscordStack) -> None:
    fake = stack.fake
    await fake.join_other_guild()
    asked = await slash_setup(fake, channel="general", role="Moderator")
    await _said(fake, asked)
    await fake.say("shut up you f4gg0t", user="mallory", elsewhere=True)
    other_queue = FakeDiscord.elsewhere({"id": fake.channel_id("mod-queue")})["id"]
    [card] = await fake.wait_for("POST", rf"/channels/{other_queue}/messages")
    assert "content" not in card.body or not card.body["content"]  # no ping of guild 1's role
    other = Tenant(platform="discord", workspace=fake.other_guild_id)
    assert await stack.moderation.alerts_of(other) is None


async def test_without_any_channel_start_up_warns_and_self_harm_reaches_the_owner(
    bare: tuple[DiscordStack, list[dict[str, Any]]],
) -> None:
    stack, logs = bare
    fake = stack.fake
    warned = [
        line for line in logs
        if line["log_level"] == "warning" and "no moderators' channel" in line["event"]
    ]  # fmt: skip
    assert [line["guild"] for line in warned] == [int(fake.guild_id)]

    await fake.say(CRY, user="mallory")
    owner = str(fake.guild["owner_id"])
    opened = await fake.wait_for("POST", r"/users/@me/channels")
    assert owner in [str(c.body["recipient_id"]) for c in opened]
    [dm] = await fake.wait_for("POST", rf"/channels/{fake.dm_channel_id(owner)}/messages")
    card = dm.body["embeds"][0]
    assert " · self_harm · " in card["title"]
    assert "run `/mod setup`" in dm.body["content"]
    assert "components" not in dm.body or not dm.body["components"]


async def test_a_spam_card_without_a_channel_is_not_sent_to_the_owner(
    bare: tuple[DiscordStack, list[dict[str, Any]]],
) -> None:
    stack, _ = bare
    fake = stack.fake
    said = await fake.say("shut up you f4gg0t", user="mallory")
    await fake.wait_for("DELETE", rf"/channels/{said['channel_id']}/messages/{said['id']}")
    mallory = fake.user_id("mallory")
    await fake.wait_for("POST", rf"/channels/{fake.dm_channel_id(mallory)}/messages")
    owner = str(fake.guild["owner_id"])
    assert _sent(fake, fake.dm_channel_id(owner)) == []


@pytest.mark.parametrize("typed", ["#general", "<#1200000000000000010>", "general"])
async def test_channel_switches_by_name_or_mention(stack: DiscordStack, typed: str) -> None:
    fake = stack.fake
    general = fake.channel_id("general")
    keys = stack.streams.tenant(Tenant(platform="discord", workspace=fake.guild_id))
    asked = await fake.slash("channel", name=typed, setting="shadow", state="on")
    assert await _said(fake, asked) == f"shadow is now on in <#{general}>."
    assert await stack.redis.hgetall(keys.shadow) == {f"channel:{general}".encode(): b"1"}
    asked = await fake.slash("channel", name=typed, setting="faq", state="off")
    assert await _said(fake, asked) == f"faq is now off in <#{general}>."
    assert await stack.redis.hgetall(keys.faq_channels) == {general.encode(): b"0"}


async def test_channel_switch_refuses_members_and_unknown_channels(stack: DiscordStack) -> None:
    fake = stack.fake
    asked = await fake.slash("channel", name="#general", setting="shadow", state="on", user="alice")
    assert "moderators only" in await _said(fake, asked)
    asked = await fake.slash("channel", name="#nowhere", setting="shadow", state="on")
    assert await _said(fake, asked) == "no text channel '#nowhere' in this server"
    keys = stack.streams.tenant(Tenant(platform="discord", workspace=fake.guild_id))
    assert await stack.redis.hgetall(keys.shadow) == {}


async def test_policy_show_summarises_or_details_a_category(stack: DiscordStack) -> None:
    fake = stack.fake
    summary = await _said(fake, await fake.slash("policy", "show"))
    assert summary.startswith(f"policy default · version {stack.policy.version}")
    assert (
        "self_harm (critical): review 0.3 / escalate 0.45 / act 0.6; "
        "on act reply, notify, open_case" in summary
    )
    detail = await _said(fake, await fake.slash("policy", "show", category="self_harm"))
    assert detail.splitlines()[0] == "self_harm (critical, support case)"
    assert "never punish" in detail
    unknown = await _said(fake, await fake.slash("policy", "show", category="nope"))
    assert unknown.startswith("unknown category 'nope'; the policy has ")
    refused = await _said(fake, await fake.slash("policy", "show", user="alice"))
    assert "may not see the policy: moderators only" in refused


async def test_an_exempt_channel_is_left_alone_until_switched_back(stack: DiscordStack) -> None:
    fake = stack.fake
    asked = await fake.slash("channel", name="#general", setting="exempt", state="on")
    assert await _said(fake, asked) == f"exempt is now on in <#{fake.channel_id('general')}>."
    said = await fake.say("shut up you f4gg0t", user="mallory")
    key = stack.streams.verdict_key(f"discord:{fake.guild_id}:{said['channel_id']}:{said['id']}")
    for _ in range(500):
        if await stack.redis.hexists(key, "verdict"):
            break
        await asyncio.sleep(0.01)
    assert await stack.redis.hexists(key, "verdict")  # decided and recorded ...
    assert await stack.redis.xlen(stack.streams.actions("discord")) == 0  # ... nothing to do
    asked = await fake.slash("channel", name="#general", setting="exempt", state="off")
    await _said(fake, asked)
    again = await fake.say("shut up you f4gg0t", user="mallory")
    await fake.wait_for("DELETE", rf"/channels/{again['channel_id']}/messages/{again['id']}")
    assert fake.calls("DELETE", rf"/channels/{said['channel_id']}/messages/{said['id']}") == []
