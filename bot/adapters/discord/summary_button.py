"""The "Summary" button on a case card: ``/mod summary <case>`` in one click, answered only to
the moderator who pressed it."""

from __future__ import annotations

from typing import Any

import discord

from bot.errors import ReviewError

__all__ = ["SummaryButton"]

_CASE_ID = r"[A-Za-z0-9_.:-]{1,64}"


class SummaryButton(
    discord.ui.DynamicItem[discord.ui.Button[Any]],
    template=rf"mt:summary:(?P<case_id>{_CASE_ID})",
):
    def __init__(self, case_id: str) -> None:
        super().__init__(
            discord.ui.Button(
                label="Summary",
                style=discord.ButtonStyle.secondary,
                custom_id=f"mt:summary:{case_id}",
            )
        )
        self.case_id = case_id

    @classmethod
    async def from_custom_id(
        cls,
        interaction: discord.Interaction[Any],
        item: discord.ui.Item[Any],
        match: Any,
        /,
    ) -> SummaryButton:
        return cls(match["case_id"])

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        from bot.adapters.discord.summary import summarise, summary_embed  # it imports views

        await interaction.response.defer(ephemeral=True, thinking=True)
        try:
            found, title = await summarise(interaction.client, interaction, self.case_id)
        except (ReviewError, ValueError) as exc:
            await interaction.followup.send(str(exc), ephemeral=True)
            return
        await interaction.followup.send(embed=summary_embed(found, title=title), ephemeral=True)
