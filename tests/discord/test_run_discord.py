"""The entry point ``modtriage run`` calls when a Discord token is set."""

from __future__ import annotations

import asyncio

import pytest
from prometheus_client import CollectorRegistry
from pydantic import SecretStr

from bot.adapters.discord import run_discord
from bot.classifiers.rules_only import RulesOnlyClassifier
from bot.connection import Redis
from bot.errors import ConfigError
from bot.metrics import Metrics
from bot.policy import Policy
from bot.review.service import ModerationService
from bot.runtime import build_worker
from bot.serve import serve
from bot.settings import Settings
from bot.streams import Streams
from tests.discord.fake_discord import FakeDiscord

pytestmark = pytest.mark.discord


def _service(redis: Redis, settings: Settings, policy: Policy) -> ModerationService:
    return ModerationService(
        redis=redis, streams=Streams(namespace=settings.namespace), policy=policy
    )


async def test_without_a_token_it_says_what_to_set(
    redis: Redis, settings: Settings, default_policy: Policy
) -> None:
    with pytest.raises(ConfigError, match="MODTRIAGE_DISCORD_TOKEN"):
        await run_discord(
            settings, redis, _service(redis, settings, default_policy), asyncio.Event()
        )


async def test_a_refused_token_stops_start_up_with_a_clear_error(
    fake: FakeDiscord, redis: Redis, settings: Settings, default_policy: Policy
) -> None:
    fake.fail("GET", r"/users/@me", status=401, body={"message": "401: Unauthorized", "code": 0})
    with_token = settings.model_copy(update={"discord_token": SecretStr("revoked")})
    async with asyncio.timeout(10):
        with pytest.raises(ConfigError, match="Discord refused the token"):
            await run_discord(
                with_token, redis, _service(redis, settings, default_policy), asyncio.Event(),
                policy=default_policy,
            )  # fmt: skip


async def test_it_moderates_until_told_to_stop(
    fake: FakeDiscord,
    discord_errors: object,
    redis: Redis,
    settings: Settings,
    default_policy: Policy,
    metrics: Metrics,
) -> None:
    configured = settings.model_copy(
        update={
            "discord_token": SecretStr("fake-token"),
            "discord_mod_channel": fake.channel_id("mod-queue"),
            "discord_sync_commands": False,
        }
    )
    worker = build_worker(
        redis=redis, settings=configured, policy=default_policy,
        classifier=RulesOnlyClassifier(), metrics=metrics, consumer="run-test",
    )  # fmt: skip
    stop = asyncio.Event()
    working = asyncio.create_task(worker.run(stop))
    running = asyncio.create_task(
        run_discord(
            configured, redis, _service(redis, configured, default_policy), stop,
            policy=default_policy, guild_ready_timeout=0.05,
        )
    )  # fmt: skip
    # Ready: the bot has the guild and its dispatcher has joined the actions stream's group.
    actions = Streams(namespace=configured.namespace).actions("discord")
    async with asyncio.timeout(10):
        while not (await redis.exists(actions) and await redis.xinfo_groups(actions)):
            await asyncio.sleep(0.01)
    said = await fake.say("you f4gg0t", user="mallory")
    await fake.wait_for("DELETE", rf"/channels/{said['channel_id']}/messages/{said['id']}")
    await fake.wait_for("POST", rf"/channels/{fake.channel_id('mod-queue')}/messages")
    assert fake.calls("PUT", r"/applications/.*") == []  # sync is off

    stop.set()
    async with asyncio.timeout(10):
        await running
        await working


async def test_modtriage_run_serves_discord_when_its_token_is_set(
    fake: FakeDiscord,
    discord_errors: object,
    redis: Redis,
    settings: Settings,
    default_policy: Policy,
) -> None:
    configured = settings.model_copy(
        update={
            "discord_token": SecretStr("fake-token"),
            "discord_mod_channel": fake.channel_id("mod-queue"),
            "discord_sync_commands": False,
        }
    )
    stop = asyncio.Event()
    serving = asyncio.create_task(
        serve(
            settings=configured, policy=default_policy, classifier=RulesOnlyClassifier(),
            redis=redis, metrics=Metrics(registry=CollectorRegistry()), stop=stop,
        )
    )  # fmt: skip
    actions = Streams(namespace=configured.namespace).actions("discord")
    async with asyncio.timeout(15):
        while not (await redis.exists(actions) and await redis.xinfo_groups(actions)):
            await asyncio.sleep(0.01)
    said = await fake.say("you f4gg0t", user="mallory")
    await fake.wait_for("DELETE", rf"/channels/{said['channel_id']}/messages/{said['id']}")
    stop.set()
    async with asyncio.timeout(10):
        await serving
