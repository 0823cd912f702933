"""``/mod faq test|suggest|accept`` and the "Add to FAQ" button, mixed into the ``/mod``
GroupCog like the toolkit. Thin: parse, call the service, render; the service checks that the
caller moderates this guild, and a suggestion of another guild is "not found".

- ``/mod faq test question:`` what a member asking this would get (FAQ answer or a person);
- ``/mod faq suggest [days]`` new entries from the questions members kept asking that no
  entry answered, each with an "Add to FAQ" button when it has a draft answer;
- ``/mod faq accept suggestion: [answer:] [entry_id:]`` adds one (with your answer when it has
  no draft, or to change it).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import discord
from discord import app_commands
from discord.ext import commands

from bot.action import Reply
from bot.adapters.discord.cards import verdict_embed
from bot.adapters.discord.views import actor_of
from bot.errors import ReviewError
from bot.faq.entries import FaqEntry
from bot.faq.suggestions import FaqSuggestion
from bot.verdict import Route

if TYPE_CHECKING:
    from bot.adapters.discord.bot import ModtriageBot

__all__ = ["FaqCommands", "SuggestionButton", "suggestion_embed"]

#: Embeds (and rows of buttons) one answer holds: Discord's limits are 10 embeds, 5 rows.
_SHOWN = 5


def suggestion_embed(suggestion: FaqSuggestion) -> discord.Embed:
    embed = discord.Embed(
        title=f"{suggestion.id} · asked {suggestion.asked}× by {suggestion.members} members",
        description="\n".join(f"• {q}" for q in suggestion.questions[:5])[:4000],
        colour=discord.Colour.blurple(),
    )
    embed.add_field(name="Entry id", value=f"`{suggestion.faq_id}`", inline=True)
    embed.add_field(
        name="Asked", value=f"{suggestion.first_at:%Y-%m-%d} to {suggestion.last_at:%Y-%m-%d}"
    )
    if suggestion.answer:
        embed.add_field(
            name=f"Draft answer (a {suggestion.answer_by}'s reply)",
            value=suggestion.answer[:1024],
            inline=False,
        )
    else:
        embed.add_field(
            name="No draft answer",
            value=f"nobody answered in its threads: `/mod faq accept suggestion:{suggestion.id} "
            "answer:...`",
            inline=False,
        )
    return embed


def _added(entry: FaqEntry) -> str:
    return (
        f"Added `{entry.id}` to the FAQ with {len(entry.questions)} questions; "
        "the next member who asks gets this answer:\n"
        + "\n".join(f"> {line}" for line in entry.answer.splitlines())
    )[:2000]


class SuggestionButton(
    discord.ui.DynamicItem[discord.ui.Button[Any]],
    template=r"mt:faqs:accept:(?P<suggestion>s[0-9a-f]{8})",
):
    """ "Add to FAQ" under a suggestion: accepts it with its draft answer."""

    def __init__(self, suggestion: str) -> None:
        super().__init__(
            discord.ui.Button(
                label=f"Add {suggestion} to FAQ",
                style=discord.ButtonStyle.success,
                custom_id=f"mt:faqs:accept:{suggestion}",
            )
        )
        self.suggestion = suggestion

    @classmethod
    async def from_custom_id(
        cls,
        interaction: discord.Interaction[Any],
        item: discord.ui.Item[Any],
        match: Any,
        /,
    ) -> SuggestionButton:
        return cls(match["suggestion"])

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        from bot.adapters.discord.bot import ModtriageBot  # the bot module imports this one

        client = interaction.client
        if not isinstance(client, ModtriageBot):
            raise TypeError(f"modtriage views need a ModtriageBot, not {type(client).__name__}")
        try:
            entry = await client.moderation.accept_faq(actor_of(interaction), self.suggestion)
        except ReviewError as exc:
            await _say(interaction, str(exc))
            return
        await _say(interaction, _added(entry))


class FaqCommands(commands.Cog):
    """Mixed into :class:`~bot.adapters.discord.commands.ModCog`."""

    bot: ModtriageBot

    faq = app_commands.Group(name="faq", description="FAQ answers, and new entries to add")

    @faq.command(name="test", description="What a member asking this would get: FAQ or a human")
    async def faq_test(
        self, interaction: discord.Interaction[Any], question: app_commands.Range[str, 1, 2000]
    ) -> None:
        judged = await self.bot.moderation.preview(actor_of(interaction), question)
        verdict = judged.verdict
        if verdict is None:  # the service always decides; nothing to render otherwise
            raise ValueError("the policy gave no verdict")
        faq = verdict.classification.faq if verdict.classification else None
        answer = next((a for a in judged.actions if isinstance(a, Reply) and a.faq_id), None)
        if verdict.route is not Route.ALLOW:
            text = f"Not an FAQ question: it would be moderated ({verdict.explain()})."
        elif faq is None or answer is None:
            text = "No approved FAQ answer fits: it would be left to a person."
        else:
            quoted = "\n".join(f"> {line}" for line in answer.text.splitlines())
            text = (
                f"It would be answered with FAQ entry `{faq.faq_id}` (match {faq.score:.2f}):"
                f"\n{quoted}"
            )[:2000]
        await _say(interaction, text, embed=verdict_embed(question, verdict))

    @faq.command(name="suggest", description="New FAQ entries from questions members keep asking")
    @app_commands.describe(days="the last how many days (default 7)")
    async def faq_suggest(
        self, interaction: discord.Interaction[Any], days: app_commands.Range[int, 1, 400] = 7
    ) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)  # embeds the questions
        found = await self.bot.moderation.suggest_faq(actor_of(interaction), days=days)
        if not found:
            await _say(
                interaction,
                f"No suggestions: no question no entry answers was asked by enough members in "
                f"the last {days} days.",
            )
            return
        shown = found[:_SHOWN]
        view = discord.ui.View(timeout=None)
        for suggestion in shown:
            if suggestion.answer:
                view.add_item(SuggestionButton(suggestion.id))
        more = f" (the first {_SHOWN} shown)" if len(found) > _SHOWN else ""
        await _say(
            interaction,
            f"{len(found)} suggested FAQ entries{more}. Add one with its button, or with "
            "`/mod faq accept` to give or change its answer.",
            embeds=[suggestion_embed(s) for s in shown],
            view=view if view.children else discord.utils.MISSING,
        )

    @faq.command(name="accept", description="Add a suggested entry to the FAQ file")
    @app_commands.describe(
        suggestion="the id from /mod faq suggest, e.g. s1a2b3c4",
        answer="the answer to post (default: the draft answer)",
        entry_id="the entry's id (default: the proposed one)",
    )
    async def faq_accept(
        self,
        interaction: discord.Interaction[Any],
        suggestion: app_commands.Range[str, 1, 20],
        answer: app_commands.Range[str, 1, 2000] | None = None,
        entry_id: app_commands.Range[str, 1, 80] | None = None,
    ) -> None:
        entry = await self.bot.moderation.accept_faq(
            actor_of(interaction), suggestion, answer=answer, faq_id=entry_id
        )
        await _say(interaction, _added(entry))


async def _say(interaction: discord.Interaction[Any], text: str, **kwargs: Any) -> None:
    if interaction.response.is_done():
        await interaction.followup.send(text, ephemeral=True, **kwargs)
    else:
        await interaction.response.send_message(text, ephemeral=True, **kwargs)
