"""The moderator's toolkit on Discord: ``/mod warn | timeout | untimeout | kick | ban | unban
| purge | slowmode | lock | unlock | note | modlogs``, mixed into the ``/mod`` GroupCog.

Each command checks, in this order: that the moderator moderates this guild (the service,
so a member learns nothing about the bot), that the bot itself holds the Discord permission
the action needs, read from the gateway's cache of its member and the channel (as Red's
``bot_has_permissions``), and for a member action that the bot's highest role is above the
member's. Only then does the service record the case and publish the actions, which the
dispatcher performs once (the interaction id is the request id: a redelivered command acts
once). Answers are ephemeral.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import discord
from discord import app_commands
from discord.ext import commands

from bot.adapters.discord.views import actor_of
from bot.errors import InvalidRequest
from bot.policy import parse_duration
from bot.review.decision import MAX_TIMEOUT_S
from bot.review.notices import human_duration
from bot.review.toolkit import OPERATIONS, DirectKind, DirectOutcome, DirectRequest, ModLog

if TYPE_CHECKING:
    from bot.adapters.discord.bot import ModtriageBot

__all__ = ["NEEDS", "ToolkitCommands", "missing_permissions", "modlog_embed", "seconds_of"]

#: The bot's own Discord permissions each direct action needs (discord.py's names).
NEEDS: dict[str, tuple[str, ...]] = {
    "warn": (),
    "timeout": ("moderate_members",),
    "untimeout": ("moderate_members",),
    "kick": ("kick_members",),
    "ban": ("ban_members",),
    "unban": ("ban_members",),
    "purge": ("manage_messages", "read_message_history"),
    "slowmode": ("manage_channels",),
    "lock": ("manage_roles",),
    "unlock": ("manage_roles",),
}
_CHANNEL_WIDE = frozenset({"purge", "slowmode", "lock", "unlock"})
_RANKED = frozenset({"timeout", "kick", "ban"})


def _title(name: str) -> str:
    return " ".join(part.capitalize() for part in name.split("_"))


def missing_permissions(
    guild: discord.Guild, channel: Any, kind: str, target: discord.abc.User | None = None
) -> str | None:
    """Why the bot cannot do ``kind`` here, from the gateway cache; None when it can."""
    me = guild.me
    if me is None:
        return "modtriage does not know its own member in this server yet; try again shortly"
    if kind in _CHANNEL_WIDE and isinstance(channel, discord.abc.GuildChannel):
        held = channel.permissions_for(me)
    else:
        held = me.guild_permissions
    lacking = [_title(name) for name in NEEDS[kind] if not getattr(held, name)]
    if lacking:
        return (
            f"modtriage lacks the **{', '.join(lacking)}** permission"
            + ("s" if len(lacking) > 1 else "")
            + " here: give it to the bot's role, then try again. Nothing was done."
        )
    if target is not None and target.id == me.id:
        return "modtriage will not act on itself."
    if (
        kind in _RANKED
        and isinstance(target, discord.Member)
        and (target.id == guild.owner_id or target.top_role >= me.top_role)
    ):
        return (
            f"modtriage's highest role must be above {target.display_name}'s highest role "
            "(and the owner cannot be sanctioned). Nothing was done."
        )
    return None


def seconds_of(value: str | None, *, what: str, most: int) -> int | None:
    if value is None or not value.strip():
        return None
    try:
        seconds = parse_duration(value.strip())
    except ValueError as exc:
        raise InvalidRequest(f"{what}: write a duration like 10m, 1h or 7d") from exc
    if not isinstance(seconds, int) or seconds <= 0:
        raise InvalidRequest(f"{what}: write a duration like 10m, 1h or 7d")
    if seconds > most:
        raise InvalidRequest(f"{what}: at most {human_duration(most)}")
    return seconds


def _done(outcome: DirectOutcome, what: str) -> str:
    case = outcome.case
    if outcome.repeated:
        return f"Already done: case `{case.id}` ({case.decision} by {case.decided_by})."
    until = f" until <t:{int(outcome.until.timestamp())}:f>" if outcome.until else ""
    return f"Case `{case.id}`: {what}{until}. Recorded in the member's history."


def modlog_embed(log: ModLog, name: str) -> discord.Embed:
    summary = ", ".join(f"{k} {v}" for k, v in sorted(log.sanctions.items())) or "none"
    embed = discord.Embed(
        title=f"Mod log of {name} · page {log.page}/{log.pages}",
        description=f"{log.cases} case(s), {log.notes} note(s); sanctions: {summary}",
    )
    for entry in log.entries:
        when = f"<t:{int(entry.at.timestamp())}:d>"
        if entry.note is not None:
            embed.add_field(
                name=f"📝 note · {when}", value=f"{entry.note.text[:900]} — {entry.note.by}",
                inline=False,
            )  # fmt: skip
        elif entry.case is not None:
            case = entry.case
            did = ", ".join(f"{r.type} ({r.state})" for r in case.actions) or "nothing"
            what = case.decision or case.verdict.category or case.source
            embed.add_field(
                name=f"Case {case.id} · {what} · {case.status.value} · {when}",
                value=f"by {case.decided_by or 'modtriage'}: {did}"[:1000],
                inline=False,
            )
    return embed


class ToolkitCommands(commands.Cog):
    """Mixed into :class:`~bot.adapters.discord.commands.ModCog` (discord.py collects the
    commands of every class in the cog's MRO, as Red's mod cog collects its mixins')."""

    bot: ModtriageBot

    async def act(
        self,
        interaction: discord.Interaction[Any],
        kind: DirectKind,
        what: str,
        *,
        target: discord.abc.User | None = None,
        **fields: Any,
    ) -> None:
        guild = interaction.guild
        if guild is None:
            raise InvalidRequest("direct actions work in a server only")
        actor = actor_of(interaction)
        moderation = self.bot.moderation
        await moderation.check_moderator(actor, OPERATIONS[kind])
        channel = interaction.channel
        refusal = missing_permissions(guild, channel, kind, target)
        if refusal is not None:
            await _say(interaction, refusal)
            return
        request = DirectRequest(
            kind=kind,
            request_id=str(interaction.id),
            channel=str(interaction.channel_id),
            member=str(target.id) if target is not None else None,
            member_name=target.display_name if target is not None else "",
            **fields,
        )
        outcome = await moderation.act(actor, request)
        await _say(interaction, _done(outcome, what))

    @app_commands.command(description="Warn a member by DM (recorded as a case)")
    async def warn(
        self,
        interaction: discord.Interaction[Any],
        member: discord.Member,
        reason: app_commands.Range[str, 1, 1000],
    ) -> None:
        await self.act(interaction, "warn", f"{member.mention} warned", target=member,
                        reason=reason)  # fmt: skip

    @app_commands.command(description="Time a member out (at most 28 days)")
    @app_commands.describe(duration="10m, 1h, 7d (default 1h)")
    async def timeout(
        self,
        interaction: discord.Interaction[Any],
        member: discord.Member,
        duration: str = "1h",
        reason: str = "",
    ) -> None:
        seconds = seconds_of(duration, what="duration", most=MAX_TIMEOUT_S) or 3600
        await self.act(
            interaction, "timeout", f"{member.mention} timed out for {human_duration(seconds)}",
            target=member, duration_s=seconds, reason=reason,
        )  # fmt: skip

    @app_commands.command(description="End a member's timeout")
    async def untimeout(
        self, interaction: discord.Interaction[Any], member: discord.Member, reason: str = ""
    ) -> None:
        await self.act(interaction, "untimeout", f"{member.mention}'s timeout ended",
                        target=member, reason=reason)  # fmt: skip

    @app_commands.command(description="Kick a member from the server")
    async def kick(
        self, interaction: discord.Interaction[Any], member: discord.Member, reason: str = ""
    ) -> None:
        await self.act(interaction, "kick", f"{member.mention} kicked", target=member,
                        reason=reason)  # fmt: skip

    @app_commands.command(description="Ban a member, for good or for a while")
    @app_commands.describe(
        duration="for a temporary ban: 1d, 2w (lifted when due); empty: permanent",
        delete_history="also delete their messages of the last: 1h, 1d, 7d (at most 7 days)",
    )
    async def ban(
        self,
        interaction: discord.Interaction[Any],
        member: discord.User,
        reason: str = "",
        duration: str | None = None,
        delete_history: str | None = None,
    ) -> None:
        seconds = seconds_of(duration, what="duration", most=365 * 86400)
        wiped = seconds_of(delete_history, what="delete_history", most=7 * 86400) or 0
        span = f" for {human_duration(seconds)}" if seconds else ""
        await self.act(
            interaction, "ban", f"{member.mention} banned{span}", target=member,
            duration_s=seconds, delete_message_seconds=wiped, reason=reason,
        )  # fmt: skip

    @app_commands.command(description="Lift a ban")
    async def unban(
        self, interaction: discord.Interaction[Any], member: discord.User, reason: str = ""
    ) -> None:
        await self.act(interaction, "unban", f"{member.mention} unbanned", target=member,
                        reason=reason)  # fmt: skip

    @app_commands.command(description="Delete the channel's last messages")
    @app_commands.describe(
        count="how many (1-500)", member="only this member's", containing="only those with this"
    )
    async def purge(
        self,
        interaction: discord.Interaction[Any],
        count: app_commands.Range[int, 1, 500],
        member: discord.User | None = None,
        containing: str | None = None,
        reason: str = "",
    ) -> None:
        which = f" by {member.mention}" if member else ""
        which += f" containing “{containing}”" if containing else ""
        await self.act(
            interaction, "purge", f"the last {count} message(s){which} are being deleted",
            target=member, count=count, containing=containing or None, reason=reason,
        )  # fmt: skip

    @app_commands.command(description="Members may post once every N seconds here (0: off)")
    async def slowmode(
        self,
        interaction: discord.Interaction[Any],
        seconds: app_commands.Range[int, 0, 21600],
        reason: str = "",
    ) -> None:
        what = f"slowmode {seconds}s in <#{interaction.channel_id}>" if seconds else "slowmode off"
        await self.act(interaction, "slowmode", what, seconds=seconds, reason=reason)

    # One command both ways: Discord allows a command group 25 subcommands, and /mod has more.
    @app_commands.command(description="Lock this channel to members; off: unlock it again")
    @app_commands.describe(off="unlock: members may post here again")
    async def lock(
        self, interaction: discord.Interaction[Any], off: bool = False, reason: str = ""
    ) -> None:
        if off:
            what = f"<#{interaction.channel_id}> unlocked"
            await self.act(interaction, "unlock", what, reason=reason)
            return
        await self.act(interaction, "lock", f"<#{interaction.channel_id}> locked", reason=reason)

    @app_commands.command(description="A staff-only note on a member (never shown to them)")
    async def note(
        self,
        interaction: discord.Interaction[Any],
        member: discord.User,
        text: app_commands.Range[str, 1, 2000],
    ) -> None:
        await self.bot.moderation.note(
            actor_of(interaction), str(member.id), text, request_id=str(interaction.id)
        )
        await _say(interaction, f"Note added to {member.mention}'s mod log.")

    @app_commands.command(description="A member's cases, notes and sanctions")
    async def modlogs(
        self,
        interaction: discord.Interaction[Any],
        member: discord.User,
        page: app_commands.Range[int, 1, 100] = 1,
    ) -> None:
        log = await self.bot.moderation.modlogs(actor_of(interaction), str(member.id), page=page)
        await _say(interaction, "", embed=modlog_embed(log, member.display_name))


async def _say(interaction: discord.Interaction[Any], text: str, **kwargs: Any) -> None:
    if interaction.response.is_done():
        await interaction.followup.send(text, ephemeral=True, **kwargs)
    else:
        await interaction.response.send_message(text, ephemeral=True, **kwargs)
