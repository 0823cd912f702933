"""A running modtriage on Discord: the real discord.py bot connected to a local fake Discord,
the real worker (rules-only classifier), the real moderation service and action dispatcher,
all on a real Redis, in the test's event loop."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import discord
import pytest
import yarl
from pydantic import SecretStr

from bot.adapters.discord import ModtriageBot, build_bot
from bot.adapters.dispatch import ActionDispatcher
from bot.classifiers.rules_only import RulesOnlyClassifier
from bot.connection import Redis
from bot.escalation import EscalateStage
from bot.insights.backtest import Backtest
from bot.insights.summary import Summariser
from bot.metrics import Metrics
from bot.pipeline.judge import build_judge
from bot.pipeline.worker import Worker
from bot.policy import Policy
from bot.review.service import ModerationService
from bot.runtime import build_worker
from bot.settings import Settings
from bot.streams import Streams
from tests.conftest import DEFAULT_POLICY
from tests.discord.fake_discord import FakeDiscord

_WAIT_S = 10.0


class _Errors(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def discord_errors() -> Iterator[_Errors]:
    """discord.py logs exceptions in handlers instead of raising them: any ERROR fails."""
    handler = _Errors()
    logger = logging.getLogger("discord")
    logger.addHandler(handler)
    yield handler
    logger.removeHandler(handler)
    problems = [
        f"{r.name}: {r.getMessage()}\n{logging.Formatter().formatException(r.exc_info)}"
        if r.exc_info
        else f"{r.name}: {r.getMessage()}"
        for r in handler.records
    ]
    assert not problems, "\n".join(problems)


#: The guild's Moderator role (tests/fixtures/discord/guild_create.json).
MODERATOR_ROLE = "1200000000000000101"


@pytest.fixture
def default_policy(default_policy: Policy) -> Policy:
    """The default policy, with this guild's moderators: its Moderator role, by id."""
    mods = default_policy.moderators.model_copy(update={"roles": (MODERATOR_ROLE,)})
    return default_policy.model_copy(update={"moderators": mods})


@pytest.fixture
async def fake(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[FakeDiscord]:
    server = FakeDiscord()
    await server.start()
    monkeypatch.setattr(discord.http.Route, "BASE", server.api_base)
    monkeypatch.setattr(
        discord.gateway.DiscordWebSocket, "DEFAULT_GATEWAY", yarl.URL(server.gateway_url)
    )
    yield server
    await server.stop()
    assert server.unhandled == [], f"calls the fake Discord does not know: {server.unhandled}"


class DiscordStack:
    """modtriage running against the fake: ``await stack.restart()`` replaces the bot process
    (a new client, new dispatcher) while Redis, the worker and the fake keep running."""

    def __init__(
        self,
        *,
        fake: FakeDiscord,
        redis: Redis,
        settings: Settings,
        policy: Policy,
        metrics: Metrics,
        escalation: EscalateStage | None = None,
        policy_path: Path = DEFAULT_POLICY,
        summariser: Summariser | None = None,
        **overrides: Any,
    ) -> None:
        self.fake = fake
        self.redis = redis
        self.settings = settings.model_copy(
            update={
                "discord_token": SecretStr("fake-token"),
                "discord_mod_channel": "mod-queue",
                "discord_dev_guilds": (int(fake.guild_id),),
                **overrides,
            }
        )
        self.policy = policy
        self.streams = Streams(namespace=settings.namespace)
        self.moderation = ModerationService(
            redis=redis,
            streams=self.streams,
            policy=policy,
            policy_path=policy_path,
            escalation=escalation,
            summariser=summariser,
            backtest=Backtest(settings=self.settings, classifier=RulesOnlyClassifier()),
            judges=lambda judged: build_judge(
                policy=judged, classifier=RulesOnlyClassifier(), settings=self.settings
            ),
        )
        self.worker: Worker = build_worker(
            redis=redis,
            settings=self.settings,
            policy=policy,
            classifier=RulesOnlyClassifier(),
            metrics=metrics,
            consumer="discord-test",
        )
        self.bot: ModtriageBot | None = None
        self._stop_worker = asyncio.Event()
        self._stop_bot = asyncio.Event()
        self._tasks: list[asyncio.Task[Any]] = []
        self._bot_tasks: list[asyncio.Task[Any]] = []

    async def start(self) -> None:
        self._tasks.append(asyncio.create_task(self.worker.run(self._stop_worker)))
        await self.start_bot()

    async def start_bot(self) -> ModtriageBot:
        bot = build_bot(
            settings=self.settings,
            redis=self.redis,
            moderation=self.moderation,
            policy=self.policy,
            guild_ready_timeout=0.05,
        )
        client = asyncio.create_task(bot.start("fake-token"))
        ready = asyncio.create_task(bot.wait_until_ready())
        done, _ = await asyncio.wait(
            {client, ready}, timeout=_WAIT_S, return_when=asyncio.FIRST_COMPLETED
        )
        if client in done:
            ready.cancel()
            client.result()
            raise AssertionError("the bot stopped before it was ready")
        if ready not in done:
            raise AssertionError("the bot did not become ready")
        self._stop_bot = asyncio.Event()
        dispatcher = ActionDispatcher(
            redis=self.redis,
            streams=self.streams,
            adapter=bot.adapter,
            consumer="discord-test",
            block_ms=20,
            moderation=self.moderation,
        )
        self._bot_tasks = [client, asyncio.create_task(dispatcher.run(self._stop_bot))]
        self.bot = bot
        return bot

    async def stop_bot(self) -> None:
        """Like a process shutting down: finish the action in hand, then disconnect."""
        client, dispatcher = self._bot_tasks
        self._stop_bot.set()
        async with asyncio.timeout(_WAIT_S):
            await dispatcher
            if self.bot is not None:
                await self.bot.close()
            await client
        self.bot = None

    async def restart(self) -> ModtriageBot:
        await self.stop_bot()
        return await self.start_bot()

    async def close(self) -> None:
        await self.stop_bot()
        self._stop_worker.set()
        async with asyncio.timeout(_WAIT_S):
            for task in self._tasks:
                await task

    async def ingested(self) -> list[dict[str, Any]]:
        import json

        entries = await self.redis.xrange(self.streams.ingest)
        return [json.loads(fields[b"message"]) for _, fields in entries]


@pytest.fixture
async def stack(
    fake: FakeDiscord,
    discord_errors: _Errors,
    redis: Redis,
    settings: Settings,
    default_policy: Policy,
    metrics: Metrics,
) -> AsyncIterator[DiscordStack]:
    running = DiscordStack(
        fake=fake, redis=redis, settings=settings, policy=default_policy, metrics=metrics
    )
    await running.start()
    try:
        yield running
    finally:
        await running.close()
