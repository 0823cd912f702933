"""The Discord client: intents, dependencies, cogs and persistent buttons."""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from typing import Any

import discord
import redis.asyncio as aioredis
import structlog
from discord.ext import commands

from bot.adapters.discord.automod import mirror_deny_lists
from bot.adapters.discord.commands import ModCog
from bot.adapters.discord.events import Inbound
from bot.adapters.discord.faq import SuggestionButton
from bot.adapters.discord.outbound import DiscordAdapter
from bot.adapters.discord.raid import RaidWatch
from bot.adapters.discord.views import DYNAMIC_ITEMS
from bot.faq.feedback import FaqFeedback
from bot.newcomers import Newcomers
from bot.pipeline.ingest import Ingest
from bot.raid_desk import RaidDesk
from bot.review.interface import Moderation
from bot.streams import Streams
from bot.tenant import Tenant

__all__ = ["ModtriageBot", "intents"]

log = structlog.get_logger(__name__)


def intents(*, members: bool = False) -> discord.Intents:
    """Only what moderation needs. Message content is privileged: enable it for the bot in the
    Developer Portal. Members are not needed (a guild message carries its author's roles)
    unless raid protection counts joins (``members``): Server Members is privileged too."""
    wanted = discord.Intents.none()
    wanted.members = members  # GUILD_MEMBER_ADD, for raid protection
    wanted.guilds = True  # channels and roles (role names for policy overrides)
    wanted.guild_messages = True  # MESSAGE_CREATE / MESSAGE_UPDATE, threads included
    wanted.message_content = True  # the text to moderate
    wanted.auto_moderation_execution = True  # messages Discord's AutoMod blocked
    return wanted


class ModtriageBot(commands.AutoShardedBot):
    """Sharded automatically (one shard per ~1,000 guilds, as Discord's ``/gateway/bot`` says).

    ``dev_guilds`` syncs the application commands to those guilds at once (development);
    otherwise they are synced globally when ``sync_commands`` is true (production; Discord
    may take a while to show changes). With ``automod_mirror`` each guild's current policy's
    deny lists are mirrored into one Discord AutoMod keyword rule (its moderator roles are
    exempt), when the guild becomes available and after ``/mod policy reload``. A guild this
    deployment does not serve (``MODTRIAGE_WORKSPACES``) is ignored, or left when
    ``leave_unlisted``.
    """

    def __init__(
        self,
        *,
        moderation: Moderation,
        ingest: Ingest,
        redis: aioredis.Redis,
        streams: Streams,
        mod_channel: str | None = None,
        dev_guilds: Sequence[int] = (),
        sync_commands: bool = True,
        automod_mirror: bool = False,
        leave_unlisted: bool = False,
        members_intent: bool = False,
        **options: Any,
    ) -> None:
        super().__init__(
            command_prefix=commands.when_mentioned,
            intents=intents(members=members_intent),
            help_command=None,
            chunk_guilds_at_startup=False,
            allowed_mentions=discord.AllowedMentions.none(),
            **options,
        )
        self.moderation = moderation
        self.ingest = ingest
        self.feedback = FaqFeedback(redis=redis, streams=streams)
        self.raids = RaidDesk(redis=redis, streams=streams, moderation=moderation)
        self.newcomers = Newcomers(redis=redis, streams=streams)
        self.adapter = DiscordAdapter(
            client=self, moderation=moderation, redis=redis, streams=streams,
            mod_channel=mod_channel,
        )  # fmt: skip
        self._dev_guilds = tuple(dev_guilds)
        self._sync_commands = sync_commands
        self._automod_mirror = automod_mirror
        self._leave_unlisted = leave_unlisted

    async def setup_hook(self) -> None:
        # Buttons posted before a restart keep working: their custom ids match these classes.
        self.add_dynamic_items(*DYNAMIC_ITEMS, SuggestionButton)
        await self.add_cog(Inbound(bot=self))
        await self.add_cog(ModCog(bot=self))
        await self.add_cog(RaidWatch(bot=self))
        if self._dev_guilds:
            for guild_id in self._dev_guilds:
                guild = discord.Object(guild_id)
                self.tree.copy_global_to(guild=guild)
                synced = await self.tree.sync(guild=guild)
                log.info("commands synced", guild=guild_id, count=len(synced))
        elif self._sync_commands:
            synced = await self.tree.sync()
            log.info("commands synced globally", count=len(synced))

    async def on_guild_available(self, guild: discord.Guild, /) -> None:
        await self._arrive(guild)

    async def on_guild_join(self, guild: discord.Guild, /) -> None:
        await self._arrive(guild)

    async def _arrive(self, guild: discord.Guild) -> None:
        tenant = Tenant(platform="discord", workspace=str(guild.id))
        if not self.ingest.serves(tenant):
            if self._leave_unlisted:
                log.warning("leaving a guild this deployment does not serve", guild=guild.id)
                with contextlib.suppress(discord.HTTPException):
                    await guild.leave()
            else:
                log.warning(
                    "a guild this deployment does not serve: its messages are not moderated "
                    "(add it to MODTRIAGE_WORKSPACES, or set MODTRIAGE_DISCORD_LEAVE_UNLISTED)",
                    guild=guild.id,
                )
            return
        await self.adapter.alerts.warn_unrouted(guild)
        await self.mirror(guild)

    async def mirror(self, guild: discord.Guild) -> None:
        """Keep the guild's AutoMod keyword rule in step with its current policy's deny lists."""
        if not self._automod_mirror:
            return
        policy = await self.moderation.policy_of(
            Tenant(platform="discord", workspace=str(guild.id))
        )
        terms = [term for category in policy.categories.values() for term in category.deny]
        try:
            await mirror_deny_lists(guild, terms=terms, exempt_roles=policy.moderators.roles)
        except discord.Forbidden:
            log.warning("AutoMod mirror refused: Manage Server missing", guild=guild.id)
            with contextlib.suppress(discord.HTTPException):
                await self.adapter.notify_moderators(
                    str(guild.id),
                    "⚠️ modtriage could not mirror the policy's deny lists into Discord AutoMod: "
                    "give the bot's role **Manage Server**, or turn the mirror off.",
                )
        except discord.HTTPException as exc:
            log.warning("AutoMod mirror failed", guild=guild.id, error=str(exc))

    async def on_message(self, message: discord.Message, /) -> None:
        """No prefix commands: the Inbound cog handles messages (this skips command parsing)."""
