"""``/mod setup`` (where alerts go, which role they ping) and ``/mod channel`` (switches per
channel), mixed into the ``/mod`` GroupCog like the toolkit. Thin: parse, call the service,
answer ephemerally; the service checks that the caller moderates this guild."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, Literal

import discord
from discord import app_commands
from discord.ext import commands

from bot.adapters.discord.views import actor_of
from bot.errors import InvalidRequest

if TYPE_CHECKING:
    from bot.adapters.discord.bot import ModtriageBot

__all__ = ["SetupCommands", "text_channel"]

_MENTION = re.compile(r"^<#(\d{15,20})>$")


def text_channel(guild: discord.Guild, text: str) -> discord.TextChannel:
    """A channel as typed: a mention (``<#id>``), an id, ``#name`` or ``name``.

    Raises:
        InvalidRequest: no such text channel in the guild.
    """
    wanted = text.strip()
    mention = _MENTION.match(wanted)
    if mention or wanted.isdigit():
        found = guild.get_channel(int(mention.group(1) if mention else wanted))
    else:
        found = discord.utils.get(guild.text_channels, name=wanted.lstrip("#"))
    if not isinstance(found, discord.TextChannel):
        raise InvalidRequest(f"no text channel {wanted!r} in this server")
    return found


class SetupCommands(commands.Cog):
    """Mixed into :class:`~bot.adapters.discord.commands.ModCog`."""

    bot: ModtriageBot

    @app_commands.command(description="Where alerts go, and the role they ping")
    @app_commands.describe(
        channel="the moderators' channel", role="the moderators' role, pinged on each alert"
    )
    async def setup(
        self,
        interaction: discord.Interaction[Any],
        channel: discord.TextChannel,
        role: discord.Role | None = None,
    ) -> None:
        route = await self.bot.moderation.set_alerts(
            actor_of(interaction), channel=str(channel.id), role=str(role.id) if role else None
        )
        ping = f", pinging <@&{route.role}>" if route.role else ""
        await _say(interaction, f"Alerts now go to <#{route.channel}>{ping}.")

    @app_commands.command(name="channel", description="Shadow mode or FAQ answers in a channel")
    @app_commands.describe(name="the channel: #name, a mention or an id", setting="what to switch")
    async def channel_switch(
        self,
        interaction: discord.Interaction[Any],
        name: app_commands.Range[str, 1, 100],
        setting: Literal["exempt", "shadow", "faq"],
        state: Literal["on", "off"],
    ) -> None:
        actor = actor_of(interaction)
        await self.bot.moderation.check_moderator(actor, f"switch {setting} in a channel")
        if interaction.guild is None:
            raise InvalidRequest("channel switches work in a server only")
        found = text_channel(interaction.guild, name)
        await self.bot.moderation.switch_channel(actor, str(found.id), setting, state == "on")
        await _say(interaction, f"{setting} is now {state} in <#{found.id}>.")


async def _say(interaction: discord.Interaction[Any], text: str, **kwargs: Any) -> None:
    if interaction.response.is_done():
        await interaction.followup.send(text, ephemeral=True, **kwargs)
    else:
        await interaction.response.send_message(text, ephemeral=True, **kwargs)
