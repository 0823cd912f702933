"""Raid protection on Discord, read as a chat log: a crowd joins the server, raid mode slows
and locks the chosen channel, pings the moderators and holds newcomers' first messages; it
ends by itself once the joins stop, or when a moderator says ``/mod raid off``."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from bot.connection import Redis
from bot.metrics import Metrics
from bot.policy import Policy, RaidProtection
from bot.review.actor import Actor
from bot.settings import Settings
from tests.discord.conftest import MODERATOR_ROLE, DiscordStack, _Errors
from tests.discord.fake_discord import FakeDiscord
from tests.discord.fake_members import Arrivals

pytestmark = [pytest.mark.discord, pytest.mark.toolkit]

SEND_MESSAGES = 1 << 11
MEMBERS_INTENT = 1 << 1


def _raid_policy(policy: Policy, **rules: Any) -> Policy:
    raid = RaidProtection(
        enabled=True, joins=20, within=10, new_account_days=7, new_accounts=3,
        actions=("alert", "slowmode", "lock", "hold_new_members"), channels=("general",),
        slowmode_seconds=30, quiet_after=rules.pop("quiet_after", 600), **rules,
    )  # fmt: skip
    return policy.model_copy(update={"raid": raid})


@pytest.fixture
def raid_policy(default_policy: Policy) -> Policy:
    """Raid protection on: 20 joins in 10 s, or 3 accounts younger than 7 days; it stays on
    for ten minutes of quiet (each test ends it or checks the end itself)."""
    return _raid_policy(default_policy)


@pytest.fixture
async def raid(
    fake: FakeDiscord, discord_errors: _Errors, redis: Redis, settings: Settings,
    raid_policy: Policy, metrics: Metrics,
) -> AsyncIterator[DiscordStack]:  # fmt: skip
    running = DiscordStack(fake=fake, redis=redis, settings=settings, policy=raid_policy,
                           metrics=metrics)  # fmt: skip
    await running.start()
    try:
        yield running
    finally:
        await running.close()


@pytest.fixture
async def quick_raid(
    fake: FakeDiscord, discord_errors: _Errors, redis: Redis, settings: Settings,
    default_policy: Policy, metrics: Metrics,
) -> AsyncIterator[DiscordStack]:  # fmt: skip
    """The same, ending after 2 s without a triggering join."""
    policy = _raid_policy(default_policy, quiet_after=2)
    running = DiscordStack(fake=fake, redis=redis, settings=settings, policy=policy,
                           metrics=metrics)  # fmt: skip
    await running.start()
    try:
        yield running
    finally:
        await running.close()


def _mod(stack: DiscordStack) -> Actor:
    return Actor(
        platform="discord", workspace=stack.fake.guild_id, user_id="1", roles=(MODERATOR_ROLE,)
    )


async def _said(stack: DiscordStack, interaction: Any) -> str:
    [*_, answer] = await stack.fake.answered(interaction)
    data = answer.body.get("data", answer.body)
    return str(data.get("content") or "")


async def _slowmode(stack: DiscordStack, count: int) -> list[Any]:
    fake = stack.fake
    patches = await fake.wait_for("PATCH", rf"/channels/{fake.channel_id('general')}", count=count)
    return [p.body["rate_limit_per_user"] for p in patches]


async def _verdict(stack: DiscordStack, message: Any) -> None:
    key = stack.streams.verdict_key(
        f"discord:{stack.fake.guild_id}:{message['channel_id']}:{message['id']}"
    )
    async with asyncio.timeout(10):
        while not await stack.redis.exists(key):
            await asyncio.sleep(0.02)


async def test_the_members_intent_is_asked_for_when_raid_protection_is_on(
    raid: DiscordStack,
) -> None:
    [identify] = raid.fake.identifies
    assert identify["intents"] & MEMBERS_INTENT


async def test_a_raid_slows_and_locks_the_channel_pings_mods_and_holds_newcomers(
    raid: DiscordStack,
) -> None:
    fake = raid.fake
    arrivals = Arrivals(fake)
    await arrivals.crowd(20)

    alert = await fake.wait_for("POST", rf"/channels/{fake.channel_id('mod-queue')}/messages")
    text = alert[0].body["content"]
    assert f"<@&{MODERATOR_ROLE}>" in text
    assert "Raid mode on: 20 members joined within 10s" in text
    assert alert[0].body["allowed_mentions"]["roles"] == [int(MODERATOR_ROLE)]
    assert await _slowmode(raid, 1) == [30]
    general = fake.channel_id("general")
    [lock] = await fake.wait_for("PUT", rf"/channels/{general}/permissions/{fake.guild_id}")
    assert int(lock.body["deny"]) & SEND_MESSAGES

    # raider5 joined during the raid: their first message goes to review, the second not
    raider = fake.member("raider5")["user"]["id"]
    first = await fake.say("hey everyone, check my profile", user="raider5")
    await _verdict(raid, first)
    [case] = await raid.moderation.history(_mod(raid), raider)
    assert case.verdict.route.value == "review"
    assert [e.rule for e in case.verdict.evidence] == ["raid:new_member"]
    second = await fake.say("anyone here?", user="raider5")
    await _verdict(raid, second)
    assert len(await raid.moderation.history(_mod(raid), raider)) == 1
    # a long-standing member is not held
    said = await fake.say("what is going on?", user="alice")
    await _verdict(raid, said)
    assert await raid.moderation.history(_mod(raid), fake.user_id("alice")) == []

    status = await _said(raid, await fake.slash("raid", "status"))
    assert "Raid mode is **on**" in status
    assert "20 members joined within 10s" in status

    assert "slowmode and locks undone" in await _said(raid, await fake.slash("raid", "off"))
    assert await _slowmode(raid, 2) == [30, 0]
    [unlock] = await fake.wait_for("DELETE", rf"/channels/{general}/permissions/{fake.guild_id}")
    assert unlock.reason is not None
    assert "Raid mode is **off**." in await _said(raid, await fake.slash("raid", "status"))


async def test_young_accounts_start_raid_mode_before_the_join_rate_does(
    raid: DiscordStack,
) -> None:
    fake = raid.fake
    arrivals = Arrivals(fake)
    await arrivals.join("old1")
    await arrivals.join("fresh1", account_age_days=0.5)
    await arrivals.join("fresh2", account_age_days=2)
    await arrivals.join("veteran", account_age_days=30)
    await arrivals.join("fresh3", account_age_days=6)
    alert = await fake.wait_for("POST", rf"/channels/{fake.channel_id('mod-queue')}/messages")
    assert "3 accounts younger than 7 days joined within 10s" in alert[0].body["content"]
    await _said(raid, await fake.slash("raid", "off"))
    await _slowmode(raid, 2)


async def test_raid_mode_ends_by_itself_after_the_quiet_period_and_undoes_its_actions(
    quick_raid: DiscordStack,
) -> None:
    fake = quick_raid.fake
    await Arrivals(fake).crowd(20)
    assert await _slowmode(quick_raid, 1) == [30]
    general = fake.channel_id("general")
    await fake.wait_for("PUT", rf"/channels/{general}/permissions/{fake.guild_id}")
    # no more joins: after 2 s of quiet the adapter ends it, with nobody typing anything
    assert await _slowmode(quick_raid, 2) == [30, 0]
    await fake.wait_for("DELETE", rf"/channels/{general}/permissions/{fake.guild_id}")
    ended = await fake.wait_for(
        "POST", rf"/channels/{fake.channel_id('mod-queue')}/messages", count=2
    )
    assert "Raid mode ended (20 members joined within 10s)" in ended[1].body["content"]
    assert await quick_raid.bot.raids.status(_mod(quick_raid)) is None  # type: ignore[union-attr]
    # a member who joined during it is judged as usual again
    said = await fake.say("hello", user="raider3")
    await _verdict(quick_raid, said)
    assert await quick_raid.moderation.history(_mod(quick_raid), fake.user_id("raider3")) == []


async def test_members_may_not_turn_raid_mode_on_or_see_it(raid: DiscordStack) -> None:
    fake = raid.fake
    refused = await _said(raid, await fake.slash("raid", "on", user="mallory"))
    assert "may not turn raid mode on: moderators only" in refused
    refused = await _said(raid, await fake.slash("raid", "status", user="mallory"))
    assert "may not see raid mode: moderators only" in refused
    # a moderator may, and it acts once however often it is asked
    assert "Raid mode is **on**" in await _said(raid, await fake.slash("raid", "on"))
    assert "on already" in await _said(raid, await fake.slash("raid", "on"))
    assert await _slowmode(raid, 1) == [30]
    await _said(raid, await fake.slash("raid", "off"))
    assert await _slowmode(raid, 2) == [30, 0]
    assert "Raid mode is off" in await _said(raid, await fake.slash("raid", "off"))


async def test_another_guilds_joins_do_not_start_this_guilds_raid_mode(
    raid: DiscordStack,
) -> None:
    fake = raid.fake
    await fake.join_other_guild()
    arrivals = Arrivals(fake)
    await arrivals.crowd(20, prefix="elsewhere", elsewhere=True)
    # the other guild's raid mode started: its alert went to its own moderators' channel
    other_queue = fake.elsewhere({"id": fake.channel_id("mod-queue")})["id"]
    await fake.wait_for("POST", rf"/channels/{other_queue}/messages")
    await arrivals.crowd(19)  # here: one short of a raid
    last = fake.member("raider19")
    said = await fake.say("hi", user=last["user"]["username"])
    await _verdict(raid, said)
    assert await raid.bot.raids.status(_mod(raid)) is None  # type: ignore[union-attr]
    assert fake.calls("PATCH", rf"/channels/{fake.channel_id('general')}") == []
    assert await raid.moderation.history(_mod(raid), last["user"]["id"]) == []
    other = Actor(platform="discord", workspace=fake.other_guild_id, user_id="1", roles=())
    assert await raid.bot.raids.book.state(other.tenant) is not None  # type: ignore[union-attr]
