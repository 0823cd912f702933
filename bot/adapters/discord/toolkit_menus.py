"""The "Warn" and "Timeout" entries of a member's context menu (right-click → Apps): the same
direct actions as ``/mod warn`` and ``/mod timeout``, the reason (and duration) asked in a
modal. Only members with Moderate Members see them; the service checks rights again."""

from __future__ import annotations

from typing import Any

import discord
from discord import app_commands

from bot.adapters.discord.toolkit import ToolkitCommands, seconds_of
from bot.adapters.discord.views import duration_input, reason_input
from bot.errors import ReviewError
from bot.notice_template import human_duration
from bot.review.decision import MAX_TIMEOUT_S

__all__ = ["DirectModal", "member_menus"]


class DirectModal(discord.ui.Modal):
    """The reason for a warning, or the duration and reason of a timeout."""

    def __init__(self, cog: ToolkitCommands, kind: str, member: discord.Member) -> None:
        super().__init__(
            title=f"{kind.capitalize()} {member.display_name}"[:45],
            custom_id=f"mt:act:{kind}:{member.id}",
            timeout=15 * 60,
        )
        self.cog, self.kind, self.member = cog, kind, member
        self.duration = duration_input(self) if kind == "timeout" else None
        self.reason = reason_input(self, required=kind == "warn")

    async def on_submit(self, interaction: discord.Interaction[Any]) -> None:
        member, reason = self.member, self.reason.value
        try:
            if self.duration is None:
                await self.cog.act(
                    interaction, "warn", f"{member.mention} warned", target=member, reason=reason
                )
                return
            seconds = seconds_of(self.duration.value, what="duration", most=MAX_TIMEOUT_S)
            seconds = seconds or 3600
            await self.cog.act(
                interaction, "timeout", f"{member.mention} timed out for {human_duration(seconds)}",
                target=member, duration_s=seconds, reason=reason,
            )  # fmt: skip
        except ReviewError as exc:
            if interaction.response.is_done():
                await interaction.followup.send(str(exc), ephemeral=True)
            else:
                await interaction.response.send_message(str(exc), ephemeral=True)


def member_menus(cog: ToolkitCommands) -> list[app_commands.ContextMenu]:
    """The two user context-menu commands, guild-only, for moderators."""

    async def warn(interaction: discord.Interaction[Any], member: discord.Member) -> None:
        await interaction.response.send_modal(DirectModal(cog, "warn", member))

    async def timeout(interaction: discord.Interaction[Any], member: discord.Member) -> None:
        await interaction.response.send_modal(DirectModal(cog, "timeout", member))

    menus = []
    for name, callback in (("Warn", warn), ("Timeout", timeout)):
        menu = app_commands.ContextMenu(name=name, callback=callback)
        menu.guild_only = True
        menu.default_permissions = discord.Permissions(moderate_members=True)
        menus.append(menu)
    return menus
