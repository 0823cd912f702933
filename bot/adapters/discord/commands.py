"""Moderators' ``/mod`` commands and members' "Report message": thin calls into the
moderation service, answered ephemerally. Discord hides ``/mod`` from members without
Moderate Members (``default_permissions``); the service checks roles again on every call."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import discord
import structlog
from discord import app_commands
from discord.ext import commands

from bot.adapters.discord.backtest import backtest_text
from bot.adapters.discord.cards import (
    case_embed,
    opinion_embed,
    queue_embed,
    shadow_report_embed,
    stats_embed,
    verdict_embed,
)
from bot.adapters.discord.convert import parse_message_link, payload_of, to_message
from bot.adapters.discord.events import role_names
from bot.adapters.discord.faq import FaqCommands
from bot.adapters.discord.raid import RaidCommands
from bot.adapters.discord.setup import SetupCommands
from bot.adapters.discord.summary import summarise, summary_embed
from bot.adapters.discord.toolkit import ToolkitCommands
from bot.adapters.discord.toolkit_menus import member_menus
from bot.adapters.discord.views import actor_of, case_view
from bot.errors import MalformedMessage, ReviewError
from bot.message import Message
from bot.stats import MAX_DAYS

if TYPE_CHECKING:
    from bot.adapters.discord.bot import ModtriageBot

__all__ = ["ModCog"]

log = structlog.get_logger(__name__)


async def _say(interaction: discord.Interaction[Any], text: str, **kwargs: Any) -> None:
    if interaction.response.is_done():
        await interaction.followup.send(text, ephemeral=True, **kwargs)
    else:
        await interaction.response.send_message(text, ephemeral=True, **kwargs)


@app_commands.guild_only()
@app_commands.default_permissions(moderate_members=True)
class ModCog(
    ToolkitCommands,
    SetupCommands,
    RaidCommands,
    FaqCommands,
    commands.GroupCog,
    group_name="mod",
    group_description="modtriage moderation",
):
    """``/mod``: the review desk here, the direct actions in
    :mod:`bot.adapters.discord.toolkit`."""

    policy = app_commands.Group(name="policy", description="The moderation policy")
    shadow = app_commands.Group(
        name="shadow", description="Shadow mode: decide and record, but enforce nothing"
    )

    def __init__(self, *, bot: ModtriageBot) -> None:
        self.bot = bot
        self.report_menu = app_commands.ContextMenu(
            name="Report message", callback=self.report_message
        )
        self.report_menu.guild_only = True
        self.menus = [self.report_menu, *member_menus(self)]  # Warn and Timeout, for moderators
        super().__init__()

    async def cog_load(self) -> None:
        for menu in self.menus:
            self.bot.tree.add_command(menu)

    async def cog_unload(self) -> None:
        for menu in self.menus:
            self.bot.tree.remove_command(menu.name, type=menu.type)

    async def cog_app_command_error(
        self, interaction: discord.Interaction[Any], error: app_commands.AppCommandError
    ) -> None:
        """Refusals from the service are answered, not logged as crashes."""
        original = getattr(error, "original", error)
        if isinstance(original, ReviewError):
            await _say(interaction, str(original))
            return
        log.error("mod command failed", command=getattr(interaction.command, "name", None),
                  error=repr(original))  # fmt: skip
        await _say(interaction, "Something went wrong; the error is in the bot's log.")

    @app_commands.command(description="Open cases waiting for review, oldest first")
    @app_commands.describe(limit="how many (1-25)")
    async def queue(
        self, interaction: discord.Interaction[Any], limit: app_commands.Range[int, 1, 25] = 10
    ) -> None:
        cases = await self.bot.moderation.queue(actor_of(interaction), limit=limit)
        await _say(interaction, "", embed=queue_embed(cases, title=f"Review queue ({len(cases)})"))

    @app_commands.command(description="Show a case with its decision buttons")
    @app_commands.describe(case_id="the case id from a card or the queue")
    async def case(self, interaction: discord.Interaction[Any], case_id: str) -> None:
        found = await self.bot.moderation.case(actor_of(interaction), case_id.strip())
        view = case_view(found)
        await _say(interaction, "", embed=case_embed(found), view=view if view.children else None)

    @app_commands.command(description="A member's cases")
    async def history(
        self,
        interaction: discord.Interaction[Any],
        member: discord.User,
        limit: app_commands.Range[int, 1, 25] = 20,
    ) -> None:
        cases = await self.bot.moderation.history(
            actor_of(interaction), str(member.id), limit=limit
        )
        title = f"History of {member.display_name} ({len(cases)})"
        await _say(interaction, "", embed=queue_embed(cases, title=title))

    @app_commands.command(description="How the current policy would decide a text (no action)")
    async def test(
        self, interaction: discord.Interaction[Any], text: app_commands.Range[str, 1, 2000]
    ) -> None:
        verdict = await self.bot.moderation.test(actor_of(interaction), text)
        await _say(interaction, "", embed=verdict_embed(text, verdict))

    @app_commands.command(description="Volumes, decisions and review times")
    @app_commands.describe(days="the last how many days, today included (default 7)")
    async def stats(
        self, interaction: discord.Interaction[Any], days: app_commands.Range[int, 1, MAX_DAYS] = 7
    ) -> None:
        actor = actor_of(interaction)
        numbers = await self.bot.moderation.stats(actor, days=days)
        drift = await self.bot.moderation.score_drift(actor)
        await _say(interaction, "", embed=stats_embed(numbers, warnings=drift.lines()))

    @app_commands.command(description="What a candidate policy would have done to past messages")
    @app_commands.describe(
        policy_file="the candidate policy YAML", version="or a stored policy version",
        days="the last how many days, today included (default 30)",
    )  # fmt: skip
    async def backtest(
        self, interaction: discord.Interaction[Any], policy_file: discord.Attachment | None = None,
        version: str | None = None, days: app_commands.Range[int, 1, MAX_DAYS] = 30,
    ) -> None:  # fmt: skip
        await interaction.response.defer(ephemeral=True, thinking=True)  # replays history
        try:
            text = await backtest_text(self.bot, interaction, policy_file, version, days)
        except ValueError as exc:
            text = str(exc)
        await _say(interaction, text)

    @policy.command(name="reload", description="Reload the policy file (a bad file is refused)")
    async def policy_reload(self, interaction: discord.Interaction[Any]) -> None:
        version = await self.bot.moderation.reload_policy(actor_of(interaction))
        await _say(interaction, f"Policy reloaded: version `{version}`.")
        if interaction.guild is not None:
            await self.bot.mirror(interaction.guild)

    @policy.command(name="show", description="The policy as it stands, or one category")
    async def policy_show(
        self, interaction: discord.Interaction[Any], category: str | None = None
    ) -> None:
        lines = await self.bot.moderation.show_policy(actor_of(interaction), category)
        await _say(interaction, "\n".join(lines)[:2000])

    async def _switch_shadow(
        self,
        interaction: discord.Interaction[Any],
        on: bool,
        channel: discord.TextChannel | None,
        category: str | None,
    ) -> None:
        await self.bot.moderation.set_shadow(
            actor_of(interaction),
            on,
            channel=str(channel.id) if channel else None,
            category=category,
        )
        where = f" in {channel.mention}" if channel else f" for {category}" if category else ""
        state = "on: nothing is enforced, everything is recorded" if on else "off: enforcing"
        await _say(interaction, f"Shadow mode{where} {state}.")

    @shadow.command(name="on", description="Decide and record, but enforce nothing")
    @app_commands.describe(channel="only in this channel", category="only for this category")
    async def shadow_on(
        self,
        interaction: discord.Interaction[Any],
        channel: discord.TextChannel | None = None,
        category: str | None = None,
    ) -> None:
        await self._switch_shadow(interaction, True, channel, category)

    @shadow.command(name="off", description="Enforce the policy again")
    @app_commands.describe(channel="only in this channel", category="only for this category")
    async def shadow_off(
        self,
        interaction: discord.Interaction[Any],
        channel: discord.TextChannel | None = None,
        category: str | None = None,
    ) -> None:
        await self._switch_shadow(interaction, False, channel, category)

    @shadow.command(name="report", description="What shadow mode would have done, and who agreed")
    @app_commands.describe(days="the last how many days, today included (default 7)")
    async def shadow_report(
        self, interaction: discord.Interaction[Any], days: app_commands.Range[int, 1, MAX_DAYS] = 7
    ) -> None:
        report = await self.bot.moderation.shadow_report(actor_of(interaction), days=days)
        await _say(interaction, "", embed=shadow_report_embed(report))

    @app_commands.command(description="The frontier model's opinion on a message, with its thread")
    @app_commands.describe(message_link="the message's link (Copy Message Link)")
    async def ask(
        self, interaction: discord.Interaction[Any], message_link: app_commands.Range[str, 1, 300]
    ) -> None:
        """Sent like any escalation (redacted, budgeted, recorded on the message's case); a case
        is opened for review when the answer calls for review or action."""
        actor = actor_of(interaction)
        await interaction.response.defer(ephemeral=True, thinking=True)  # the model takes a while
        try:
            message = await self._fetch(interaction, message_link)
        except ValueError as exc:
            await _say(interaction, str(exc))
            return
        opinion = await self.bot.moderation.ask(actor, message)
        await _say(interaction, "", embed=opinion_embed(opinion))
        if opinion.case_opened and opinion.case is not None:
            try:
                await self.bot.adapter.post_card(
                    opinion.case, note="Opened after a moderator asked the frontier model"
                )
            except discord.HTTPException as exc:
                log.warning("ask card not posted", case_id=opinion.case.id, error=str(exc))

    async def _fetch(self, interaction: discord.Interaction[Any], link: str) -> Message:
        """The linked message as Discord has it now (ValueError: with what went wrong)."""
        guild_id, channel_id, message_id = parse_message_link(link)
        if guild_id != str(interaction.guild_id):
            raise ValueError("that message is in another server")
        try:
            channel = self.bot.get_channel(int(channel_id)) or await self.bot.fetch_channel(
                int(channel_id)
            )
            if not isinstance(channel, discord.TextChannel | discord.Thread):
                raise ValueError("that link is not to a message in a text channel or thread")
            found = await channel.fetch_message(int(message_id))
        except discord.NotFound as exc:
            raise ValueError("that message was not found (deleted?)") from exc
        except discord.Forbidden as exc:
            raise ValueError("modtriage may not read that channel") from exc
        thread = str(channel.id) if isinstance(channel, discord.Thread) else None
        try:
            return to_message(
                payload_of(found),
                role_names=role_names(interaction.guild),
                guild_id=guild_id,
                thread=thread,
            )
        except MalformedMessage as exc:
            raise ValueError(f"that message cannot be read: {exc.reason}") from exc

    @app_commands.command(description="A thread or a case in five lines: who, what, which rules")
    @app_commands.describe(target="a case id, or a message's link (Copy Message Link)")
    async def summary(
        self, interaction: discord.Interaction[Any], target: app_commands.Range[str, 1, 300]
    ) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)  # history, then a model
        try:
            found, title = await summarise(self.bot, interaction, target)
        except ValueError as exc:
            await _say(interaction, str(exc))
            return
        await _say(interaction, "", embed=summary_embed(found, title=title))

    async def report_message(
        self, interaction: discord.Interaction[Any], message: discord.Message
    ) -> None:
        """Context menu for every member: the message lands in the review queue."""
        reporter = actor_of(interaction)
        try:
            reported = to_message(
                payload_of(message),
                role_names=role_names(interaction.guild),
                guild_id=str(interaction.guild_id),
            )
        except MalformedMessage as exc:
            await _say(interaction, f"This message cannot be reported: {exc.reason}")
            return
        try:
            case = await self.bot.moderation.report(reporter, reported)
        except ReviewError as exc:
            await _say(interaction, str(exc))
            return
        await _say(interaction, "Thanks: moderators will look at it. Only you can see this.")
        try:
            await self.bot.adapter.post_card(case, note=f"Reported by <@{reporter.user_id}>")
        except discord.HTTPException as exc:
            log.warning("report card not posted", case_id=case.id, error=str(exc))
