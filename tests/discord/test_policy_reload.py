"""``/mod policy reload`` on Discord reaches the running worker: the next message is decided
under the new version, and the moderators' card names it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.connection import Redis
from bot.metrics import Metrics
from bot.policy import Policy, load_policy
from bot.settings import Settings
from bot.streams import read_decision
from bot.verdict import Route, Verdict
from tests.discord.conftest import MODERATOR_ROLE, DiscordStack, _Errors
from tests.discord.fake_discord import FakeDiscord
from tests.policy_variants import write_policy

pytestmark = [pytest.mark.discord, pytest.mark.tenancy]


@pytest.fixture
async def team(
    fake: FakeDiscord,
    discord_errors: _Errors,
    redis: Redis,
    settings: Settings,
    default_policy: Policy,
    metrics: Metrics,
    tmp_path: Path,
) -> AsyncIterator[DiscordStack]:
    """The guild's policy file, which a moderator edits while modtriage runs."""
    path = write_policy(tmp_path / "guild.yaml", name="guild", moderator_roles=(MODERATOR_ROLE,))
    running = DiscordStack(
        fake=fake, redis=redis, settings=settings, policy=default_policy, metrics=metrics,
        policy_path=path,
    )  # fmt: skip
    await running.start()
    try:
        yield running
    finally:
        await running.close()


async def _verdict(stack: DiscordStack, said: dict[str, object]) -> Verdict:
    key = f"discord:{stack.fake.guild_id}:{said['channel_id']}:{said['id']}"
    for _ in range(500):
        found = await read_decision(stack.redis, stack.streams, key)
        if found is not None:
            return found[1]
        await asyncio.sleep(0.02)
    raise AssertionError(f"no verdict for {key}")


async def test_a_reload_reaches_the_running_worker(team: DiscordStack, tmp_path: Path) -> None:
    fake = team.fake
    before = await _verdict(team, await fake.say("turnip soup again", user="mallory"))
    assert before.route is Route.ALLOW

    path = write_policy(
        tmp_path / "guild.yaml", name="guild", toxic=("turnip",), moderator_roles=(MODERATOR_ROLE,)
    )
    new = load_policy(path).version
    reload = await fake.slash("policy", "reload")
    [reloaded] = await fake.answered(reload)
    assert reloaded.body["data"]["content"] == f"Policy reloaded: version `{new}`."

    said = await fake.say("you turnip", user="mallory")
    after = await _verdict(team, said)
    assert (after.route, after.category, after.policy_version) == (Route.ACT, "toxicity", new)
    [card] = await fake.wait_for("POST", rf"/channels/{fake.channel_id('mod-queue')}/messages")
    assert card.body["embeds"][0]["footer"]["text"] == f"policy {new} · rules"
    mallory = fake.user_id("mallory")
    [dm] = await fake.wait_for("POST", rf"/channels/{fake.dm_channel_id(mallory)}/messages")
    assert "toxicity" in dm.body["embeds"][0]["description"]


async def test_a_reload_updates_the_guilds_automod_rule(
    fake: FakeDiscord,
    discord_errors: _Errors,
    redis: Redis,
    settings: Settings,
    default_policy: Policy,
    metrics: Metrics,
    tmp_path: Path,
) -> None:
    path = write_policy(tmp_path / "guild.yaml", name="guild", moderator_roles=(MODERATOR_ROLE,))
    stack = DiscordStack(
        fake=fake, redis=redis, settings=settings, policy=default_policy, metrics=metrics,
        policy_path=path, discord_automod_mirror=True,
    )  # fmt: skip
    await stack.start()
    try:
        [created] = await fake.wait_for("POST", r"/guilds/\d+/auto-moderation/rules")
        assert "turnip" not in created.body["trigger_metadata"]["keyword_filter"]

        write_policy(path, name="guild", toxic=("turnip",), moderator_roles=(MODERATOR_ROLE,))
        await fake.answered(await fake.slash("policy", "reload"))
        [updated] = await fake.wait_for("PATCH", r"/guilds/\d+/auto-moderation/rules/\d+")
        assert "turnip" in updated.body["trigger_metadata"]["keyword_filter"]
    finally:
        await stack.close()
