"""The Discord adapter: gateway events in, actions out, ``/mod`` commands and review buttons.

Only this package (and the rest of ``bot/adapters/``) imports ``discord``.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import discord
import redis.asyncio as aioredis
import structlog

from bot.adapters.discord.bot import ModtriageBot, intents
from bot.adapters.discord.convert import automod_to_message, payload_of, to_message
from bot.adapters.discord.outbound import DiscordAdapter
from bot.adapters.dispatch import PartitionDispatchers
from bot.errors import ConfigError
from bot.health import Health
from bot.pipeline.ingest import Ingest
from bot.policy import Policy, load_policy
from bot.review.interface import Moderation
from bot.runtime import consumer_name
from bot.settings import Settings

__all__ = [
    "DiscordAdapter",
    "ModtriageBot",
    "automod_to_message",
    "build_bot",
    "intents",
    "payload_of",
    "run_discord",
    "to_message",
]

log = structlog.get_logger(__name__)


def build_bot(
    *,
    settings: Settings,
    redis: aioredis.Redis,
    moderation: Moderation,
    policy: Policy,
    **options: Any,
) -> ModtriageBot:
    """The bot as settings describe it; ``options`` go to discord.py (``shard_count``, ...)."""
    streams = settings.streams()
    return ModtriageBot(
        moderation=moderation,
        ingest=Ingest(
            redis=redis, streams=streams, maxlen=settings.stream_maxlen, tenants=settings.tenants
        ),
        redis=redis,
        streams=streams,
        mod_channel=settings.discord_mod_channel,
        dev_guilds=settings.discord_dev_guilds,
        sync_commands=settings.discord_sync_commands,
        automod_mirror=settings.discord_automod_mirror,
        leave_unlisted=settings.discord_leave_unlisted,
        members_intent=policy.raid.enabled or policy.raid.newcomer_hours > 0,
        **options,
    )


async def run_discord(
    settings: Settings,
    redis: aioredis.Redis,
    moderation: Moderation,
    stop: asyncio.Event,
    *,
    policy: Policy | None = None,
    health: Health | None = None,
    **options: Any,
) -> None:
    """Connect to Discord and run until ``stop`` is set: ingest gateway events, execute the
    ``actions:discord`` stream, answer ``/mod`` commands and buttons. ``options`` go to
    discord.py's client (``shard_count``, ``shard_ids`` for a fixed sharding). ``health`` says
    whether the gateway session is ready.

    Raises:
        ConfigError: no token is set, or Discord refuses it or the privileged intents.
    """
    if settings.discord_token is None:
        raise ConfigError("MODTRIAGE_DISCORD_TOKEN is not set; create a bot token first")
    bot = build_bot(
        settings=settings,
        redis=redis,
        moderation=moderation,
        policy=policy or load_policy(settings.policy),
        **options,
    )
    dispatcher = PartitionDispatchers(
        redis=redis,
        streams=settings.streams(),
        adapter=bot.adapter,
        consumer=consumer_name("discord"),
        moderation=moderation,
        maxlen=settings.stream_maxlen,
    )

    async def gateway() -> str | None:
        return None if bot.is_ready() and not bot.is_closed() else "gateway not ready"

    health = health or Health()
    health.watch("discord", gateway)

    async def dispatch_when_ready() -> None:
        await bot.wait_until_ready()
        await dispatcher.run(stop)

    async with bot:
        client = asyncio.create_task(bot.start(settings.discord_token.get_secret_value()))
        actions = asyncio.create_task(dispatch_when_ready())
        stopping = asyncio.create_task(stop.wait())
        await asyncio.wait({client, stopping}, return_when=asyncio.FIRST_COMPLETED)
        stop.set()
        stopping.cancel()
        # Finish the action in hand before the connection goes.
        if bot.is_ready():
            await actions
        else:
            actions.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await actions
        await bot.close()
        try:
            await client
        except discord.LoginFailure as exc:
            raise ConfigError(f"Discord refused the token: {exc}") from exc
        except discord.PrivilegedIntentsRequired as exc:
            raise ConfigError(
                "enable the Message Content intent for the bot in the Discord Developer Portal"
                " (and Server Members, which raid protection needs)"
            ) from exc
