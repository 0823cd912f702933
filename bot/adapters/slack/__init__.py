"""The Slack adapter (slack-bolt, async): events in, actions out, ``/mod`` and review cards.

:func:`run_slack` runs it from settings:

- **Socket Mode** when ``MODTRIAGE_SLACK_APP_TOKEN`` (``xapp-``) is set: an outbound websocket,
  no public URL (self-hosting; Slack does not list Socket Mode apps in its Marketplace).
- **HTTP mode** otherwise: Bolt serves ``MODTRIAGE_SLACK_PATH`` on ``MODTRIAGE_SLACK_PORT`` and
  verifies every request's signature with ``MODTRIAGE_SLACK_SIGNING_SECRET``. Replicas are
  stateless: run several behind a load balancer.

Both need ``MODTRIAGE_SLACK_BOT_TOKEN``; ``MODTRIAGE_SLACK_ADMIN_TOKEN`` optionally lets it
delete members' messages. The worker runs separately (``modtriage worker``).
"""

from __future__ import annotations

import asyncio

import aiohttp
import redis.asyncio as aioredis
import structlog
from aiohttp import web
from slack_sdk.errors import SlackApiError

from bot.adapters.dispatch import PartitionDispatchers
from bot.adapters.slack.app import SlackBot, web_client
from bot.adapters.slack.directory import SlackDirectory
from bot.adapters.slack.inbound import to_message
from bot.adapters.slack.outbound import SlackAdapter
from bot.errors import ConfigError
from bot.health import Health
from bot.pipeline.ingest import Ingest
from bot.review.interface import Moderation
from bot.runtime import consumer_name
from bot.settings import Settings
from bot.tenant import Tenant

__all__ = ["SlackAdapter", "SlackBot", "build_slack", "run_slack", "to_message", "web_client"]

log = structlog.get_logger(__name__)


def build_slack(
    settings: Settings, redis: aioredis.Redis, moderation: Moderation
) -> tuple[SlackBot, PartitionDispatchers]:
    """The Bolt app and the dispatchers of ``actions:slack`` (one a partition), from settings.

    Raises:
        ConfigError: no bot token, neither an app token nor a signing secret, or an empty
            signing secret in HTTP mode.
    """
    if settings.slack_bot_token is None:
        raise ConfigError("Slack needs MODTRIAGE_SLACK_BOT_TOKEN (xoxb-...)")
    if settings.slack_app_token is None and settings.slack_signing_secret is None:
        raise ConfigError(
            "Slack needs MODTRIAGE_SLACK_APP_TOKEN (Socket Mode) or "
            "MODTRIAGE_SLACK_SIGNING_SECRET (HTTP mode)"
        )
    secret = settings.slack_signing_secret
    if (
        settings.slack_app_token is None
        and secret is not None
        and not secret.get_secret_value().strip()
    ):
        raise ConfigError(
            "setting MODTRIAGE_SLACK_SIGNING_SECRET is empty (environment or .env), so any "
            "request signed with an empty key would pass. Fix: set it to the Signing Secret "
            "on the Slack app's Basic Information page, or set MODTRIAGE_SLACK_APP_TOKEN for "
            "Socket Mode"
        )
    streams = settings.streams()
    client = web_client(
        settings.slack_bot_token.get_secret_value(), base_url=settings.slack_api_url
    )
    admin = (
        web_client(settings.slack_admin_token.get_secret_value(), base_url=settings.slack_api_url)
        if settings.slack_admin_token
        else None
    )
    directory = SlackDirectory(client=client)
    adapter = SlackAdapter(
        client=client,
        directory=directory,
        admin_client=admin,
        moderation=moderation,
        redis=redis,
        streams=streams,
        moderators_channel=settings.slack_moderators_channel,
    )
    socket_mode = settings.slack_app_token is not None
    bot = SlackBot(
        client=client,
        signing_secret=None if socket_mode or secret is None else secret.get_secret_value(),
        redis=redis,
        streams=streams,
        ingest=Ingest(
            redis=redis, streams=streams, maxlen=settings.stream_maxlen, tenants=settings.tenants
        ),
        moderation=moderation,
        adapter=adapter,
        directory=directory,
        moderate_bots=settings.slack_moderate_bots,
    )
    dispatcher = PartitionDispatchers(
        redis=redis,
        streams=streams,
        adapter=adapter,
        consumer=consumer_name("slack"),
        block_ms=settings.block_ms,
        moderation=moderation,
        maxlen=settings.stream_maxlen,
    )
    if admin is None:
        log.info("no Slack admin token: members' messages are flagged, not deleted")
    return bot, dispatcher


async def _served(settings: Settings, bot: SlackBot) -> list[Tenant]:
    """The workspaces this deployment serves: those listed, else the bot token's own."""
    listed = [t for t in settings.tenants if t.platform == "slack"]
    if listed:
        return listed
    try:
        team = (await bot.app.client.auth_test()).get("team_id")
    except (SlackApiError, aiohttp.ClientError, TimeoutError) as exc:
        log.warning("auth.test failed: cannot check where alerts go", error=str(exc))
        return []
    return [Tenant(platform="slack", workspace=str(team))] if team else []


async def run_slack(
    settings: Settings,
    redis: aioredis.Redis,
    moderation: Moderation,
    stop: asyncio.Event,
    *,
    health: Health | None = None,
) -> None:
    """Receive Slack events and perform Slack actions until ``stop`` is set; ``health`` says
    whether Slack can reach the bot (Socket Mode connected, or the HTTP endpoint listening).

    Raises:
        ConfigError: see :func:`build_slack`.
    """
    health = health or Health()
    health.waiting("slack", "connecting")
    bot, dispatcher = build_slack(settings, redis, moderation)
    await bot.alerts.warn_unrouted(await _served(settings, bot))
    dispatching = asyncio.create_task(dispatcher.run(stop), name="slack-dispatcher")
    try:
        if settings.slack_app_token is not None:
            from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler

            handler = AsyncSocketModeHandler(bot.app, settings.slack_app_token.get_secret_value())
            await handler.connect_async()  # type: ignore[no-untyped-call]  # bolt leaves it unannotated
            log.info("slack connected (Socket Mode)")
            socket = handler.client

            async def connected() -> str | None:
                return None if await socket.is_connected() else "Socket Mode reconnecting"

            health.watch("slack", connected)
            try:
                await stop.wait()
            finally:
                await handler.close_async()  # type: ignore[no-untyped-call]  # as above
        else:
            runner = web.AppRunner(bot.app.web_app(path=settings.slack_path))
            await runner.setup()
            await web.TCPSite(runner, settings.slack_host, settings.slack_port).start()
            log.info(
                "slack listening (HTTP mode)", port=settings.slack_port, path=settings.slack_path
            )
            health.ready("slack")
            try:
                await stop.wait()
            finally:
                await runner.cleanup()
    finally:
        stop.set()
        await dispatching
