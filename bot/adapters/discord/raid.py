"""Raid protection on Discord: member joins in (GUILD_MEMBER_ADD, which needs the privileged
Server Members intent), the quiet check that ends raid mode, and ``/mod raid on|off|status``.

The rules and state are platform-free (:mod:`bot.raid`, :mod:`bot.raid_desk`); this module
converts a joining member (their account's age is read from their snowflake id), resolves the
policy's channels and the moderators' roles in the guild, and renders the commands.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import discord
import structlog
from discord import app_commands
from discord.ext import commands
from redis.exceptions import RedisError

from bot.adapters.discord.views import actor_of
from bot.errors import InvalidRequest
from bot.policy import Policy
from bot.raid import Join, RaidState
from bot.tenant import Tenant

if TYPE_CHECKING:
    from bot.adapters.discord.bot import ModtriageBot

__all__ = [
    "QUIET_CHECK_S",
    "RaidCommands",
    "RaidWatch",
    "join_of",
    "moderator_roles",
    "raid_channels",
    "snowflake_time",
]

log = structlog.get_logger(__name__)

#: How often the adapter ends raid modes that have been quiet long enough.
QUIET_CHECK_S = 1.0
_DISCORD_EPOCH_MS = 1_420_070_400_000


def snowflake_time(snowflake: int | str) -> datetime:
    """When a Discord id was minted: an account's id says when the account was created."""
    return datetime.fromtimestamp(((int(snowflake) >> 22) + _DISCORD_EPOCH_MS) / 1000, UTC)


def join_of(member: discord.Member) -> Join:
    return Join(
        tenant=Tenant(platform="discord", workspace=str(member.guild.id)),
        member=str(member.id),
        account_created=snowflake_time(member.id),
        at=member.joined_at or datetime.now(UTC),
    )


def raid_channels(guild: discord.Guild, policy: Policy) -> tuple[tuple[str, ...], dict[str, int]]:
    """The policy's raid channels (ids or names) as ids, and each one's slowmode now."""
    found: list[discord.TextChannel] = []
    for wanted in policy.raid.channels:
        name = wanted.lstrip("#")
        channel = (
            guild.get_channel(int(name)) if name.isdigit()
            else discord.utils.get(guild.text_channels, name=name)
        )  # fmt: skip
        if isinstance(channel, discord.TextChannel):
            found.append(channel)
        else:
            log.warning("raid channel not found", guild=guild.id, channel=wanted)
    return tuple(str(c.id) for c in found), {str(c.id): c.slowmode_delay for c in found}


def moderator_roles(guild: discord.Guild, policy: Policy) -> tuple[str, ...]:
    """The moderators' roles (ids or names in the policy) that exist in the guild, as ids."""
    roles = []
    for wanted in policy.moderators.roles:
        role = (
            guild.get_role(int(wanted)) if wanted.isdigit()
            else discord.utils.get(guild.roles, name=wanted)
        )  # fmt: skip
        if role is not None and not role.is_default():
            roles.append(str(role.id))
    return tuple(roles)


class RaidWatch(commands.Cog):
    """Counts joins and ends quiet raid modes (every :data:`QUIET_CHECK_S`)."""

    def __init__(self, *, bot: ModtriageBot) -> None:
        self.bot = bot
        self._quiet: asyncio.Task[None] | None = None

    async def cog_load(self) -> None:
        self._quiet = asyncio.create_task(self._check_quiet())

    async def cog_unload(self) -> None:
        if self._quiet is not None:
            self._quiet.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._quiet

    async def _check_quiet(self) -> None:
        while True:
            await asyncio.sleep(QUIET_CHECK_S)
            try:
                for state in await self.bot.raids.end_quiet("discord"):
                    log.info("raid mode ended: quiet", guild=state.tenant.workspace)
            except (RedisError, OSError) as exc:
                log.warning("raid quiet check failed", error=str(exc))

    @commands.Cog.listener()
    async def on_member_join(self, member: discord.Member) -> None:
        if member.bot:
            return
        tenant = Tenant(platform="discord", workspace=str(member.guild.id))
        if not self.bot.ingest.serves(tenant):
            return
        try:
            policy = await self.bot.moderation.policy_of(tenant)
            if policy.raid.newcomer_hours:  # their links and mentions are held for a while
                joined = member.joined_at or datetime.now(UTC)
                await self.bot.newcomers.joined(tenant, str(member.id), joined)
            if not policy.raid.enabled:
                return
            channels, slowmode = raid_channels(member.guild, policy)
            count = await self.bot.raids.joined(
                join_of(member), policy.raid, channels=channels, slowmode_before=slowmode,
                ping_roles=moderator_roles(member.guild, policy),
            )  # fmt: skip
        except (RedisError, OSError) as exc:
            log.error("member join not counted", guild=member.guild.id, member=member.id,
                      error=str(exc))  # fmt: skip
            return
        if count.started is not None:
            log.warning("raid mode on", guild=member.guild.id, reason=count.started.reason)


def _shown(state: RaidState) -> str:
    ends = ""
    if state.ends_at is not None:
        ends = f" it ends by itself <t:{int(state.ends_at.timestamp())}:R> if quiet"
    where = ", ".join(f"<#{c}>" for c in state.channels) or "no channels"
    return (
        f"Raid mode is **on** since <t:{int(state.started_at.timestamp())}:f> "
        f"({state.reason}; by {state.started_by});{ends}. Actions: "
        f"{', '.join(state.actions) or 'none'} on {where}."
    )


class RaidCommands(commands.Cog):
    """``/mod raid on|off|status``, mixed into the ``/mod`` GroupCog."""

    bot: ModtriageBot

    raid = app_commands.Group(name="raid", description="Raid mode: slow, lock, hold newcomers")

    @raid.command(name="on", description="Turn raid mode on now (ends by itself when quiet)")
    async def raid_on(self, interaction: discord.Interaction[Any]) -> None:
        guild = interaction.guild
        if guild is None:
            raise InvalidRequest("raid mode works in a server only")
        actor = actor_of(interaction)
        policy = await self.bot.moderation.policy_of(actor.tenant)
        channels, slowmode = raid_channels(guild, policy)
        state = await self.bot.raids.turn_on(
            actor, channels=channels, slowmode_before=slowmode,
            ping_roles=moderator_roles(guild, policy),
        )  # fmt: skip
        if state is None:
            await _say(interaction, "Raid mode is on already; `/mod raid status` says since when.")
            return
        await _say(interaction, _shown(state))

    @raid.command(name="off", description="End raid mode now and undo its slowmode and locks")
    async def raid_off(self, interaction: discord.Interaction[Any]) -> None:
        state = await self.bot.raids.turn_off(actor_of(interaction))
        if state is None:
            await _say(interaction, "Raid mode is off; nothing to undo.")
            return
        await _say(interaction, f"Raid mode ended ({state.reason}); slowmode and locks undone.")

    @raid.command(name="status", description="Whether raid mode is on, why and until when")
    async def raid_status(self, interaction: discord.Interaction[Any]) -> None:
        state = await self.bot.raids.status(actor_of(interaction))
        await _say(interaction, "Raid mode is **off**." if state is None else _shown(state))


async def _say(interaction: discord.Interaction[Any], text: str) -> None:
    if interaction.response.is_done():
        await interaction.followup.send(text, ephemeral=True)
    else:
        await interaction.response.send_message(text, ephemeral=True)
