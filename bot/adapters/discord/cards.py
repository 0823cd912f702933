"""How cases, warnings and verdicts look in Discord: embeds, built from data, no I/O."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import discord

from bot.case import Case, CaseStatus
from bot.verdict import Route, Verdict

__all__ = [
    "case_embed",
    "queue_embed",
    "stats_embed",
    "verdict_embed",
    "warning_embed",
]

_COLOURS = {
    CaseStatus.OPEN: discord.Colour.orange(),
    CaseStatus.APPEALED: discord.Colour.gold(),
    CaseStatus.ACTIONED: discord.Colour.red(),
    CaseStatus.DISMISSED: discord.Colour.light_grey(),
    CaseStatus.OVERTURNED: discord.Colour.green(),
}
_ROUTE_COLOURS = {
    Route.ALLOW: discord.Colour.green(),
    Route.REVIEW: discord.Colour.orange(),
    Route.ESCALATE: discord.Colour.gold(),
    Route.ACT: discord.Colour.red(),
}
_FIELD_CHARS = 1000


def _clip(text: str, limit: int = _FIELD_CHARS) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _quote(text: str) -> str:
    body = _clip(text, 900) or "(no text)"
    return "\n".join(f"> {line}" for line in body.splitlines() or [body])


def case_embed(case: Case, *, note: str = "") -> discord.Embed:
    """A review card: who said what where, why modtriage flagged it, and what happened since."""
    message, verdict = case.message, case.verdict
    embed = discord.Embed(
        title=f"Case {case.id} · {verdict.category or 'report'} · {case.status.value}",
        description=_quote(message.text),
        colour=_COLOURS.get(case.status, discord.Colour.orange()),
        url=message.permalink,
        timestamp=message.ts,
    )
    embed.add_field(name="Member", value=f"<@{message.author.id}>", inline=True)
    embed.add_field(name="Channel", value=f"<#{message.channel}>", inline=True)
    embed.add_field(name="Route", value=verdict.route.value, inline=True)
    embed.add_field(name="Why", value=_clip(verdict.explain()), inline=False)
    if verdict.shadow:
        embed.add_field(name="Shadow mode", value="recorded only, nothing was enforced")
    if case.events:
        lines = [
            f"<t:{int(event.at.timestamp())}:R> {event.kind} by {event.actor}"
            + (f": {event.detail}" if event.detail else "")
            for event in case.events[-6:]
        ]
        embed.add_field(name="History", value=_clip("\n".join(lines)), inline=False)
    if note:
        embed.add_field(name="Note", value=_clip(note), inline=False)
    embed.set_footer(text=f"policy {verdict.policy_version or '-'} · {verdict.stage}")
    return embed


def warning_embed(*, guild: str, text: str, quote: str, reason: str) -> discord.Embed:
    """What a member is told: the rule, their own words, and that they can appeal."""
    embed = discord.Embed(title=f"A message of yours in {guild}", description=text)
    if quote:
        embed.add_field(name="Your message", value=_quote(quote), inline=False)
    if reason:
        embed.add_field(name="Why", value=_clip(reason), inline=False)
    embed.colour = discord.Colour.orange()
    return embed


def verdict_embed(text: str, verdict: Verdict) -> discord.Embed:
    embed = discord.Embed(
        title=f"{verdict.route.value}" + (f" · {verdict.category}" if verdict.category else ""),
        description=_quote(text),
        colour=_ROUTE_COLOURS[verdict.route],
    )
    embed.add_field(name="Why", value=_clip(verdict.explain()), inline=False)
    embed.add_field(name="Decided by", value=verdict.model or verdict.stage, inline=True)
    if verdict.shadow:
        embed.add_field(name="Shadow mode", value="would be recorded only", inline=True)
    return embed


def queue_embed(cases: Sequence[Case], *, title: str) -> discord.Embed:
    embed = discord.Embed(title=title, colour=discord.Colour.orange())
    if not cases:
        embed.description = "Nothing here."
        return embed
    lines = [
        f"`{case.id}` {case.status.value} · {case.verdict.category or 'report'} · "
        f"<@{case.message.author.id}> in <#{case.message.channel}>: "
        f"{_clip(case.message.text.replace(chr(10), ' '), 80)}"
        for case in cases
    ]
    embed.description = _clip("\n".join(lines), 4000)
    return embed


def stats_embed(stats: Mapping[str, float]) -> discord.Embed:
    embed = discord.Embed(title="Moderation stats", colour=discord.Colour.blurple())
    for name, value in list(stats.items())[:25]:
        shown = f"{value:g}" if isinstance(value, float) else str(value)
        embed.add_field(name=name.replace("_", " "), value=shown, inline=True)
    if not stats:
        embed.description = "No numbers yet."
    return embed
