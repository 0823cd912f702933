"""How cases, warnings and verdicts look in Discord: embeds, built from data, no I/O."""

from __future__ import annotations

import re
from collections.abc import Sequence

import discord

from bot.case import Case, CaseEscalation, CaseStatus
from bot.insights.shadow_report import ShadowReport
from bot.review.opinion import Opinion
from bot.stats import Stats
from bot.verdict import Route, Verdict

__all__ = [
    "case_embed",
    "opinion_embed",
    "queue_embed",
    "shadow_report_embed",
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
#: A Discord member id, as a pseudonym maps back to it ("123" or "123 (Name)").
_MEMBER = re.compile(r"^(\d{15,20})(?: \(.*\))?$")


def _clip(text: str, limit: int = _FIELD_CHARS) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _shown(text: str) -> str:
    """Text someone typed, shown as typed: Discord markdown (bold, code, quotes, headings,
    masked links) and mentions (@everyone, users, roles) are escaped, so member text cannot
    style a card, hide a link behind words or look like a ping."""
    return discord.utils.escape_mentions(discord.utils.escape_markdown(text))


def _quote(text: str) -> str:
    body = _clip(_shown(text), 900) or "(no text)"
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
    embed.add_field(name="Why", value=_clip(_shown(verdict.explain())), inline=False)
    if verdict.shadow:
        embed.add_field(name="Shadow mode", value="recorded only, nothing was enforced")
    if case.events:
        lines = [
            f"<t:{int(event.at.timestamp())}:R> {event.kind} by {event.actor}"
            + (f": {_shown(event.detail)}" if event.detail else "")
            for event in case.events[-6:]
        ]
        embed.add_field(name="History", value=_clip("\n".join(lines)), inline=False)
    if case.escalation is not None:
        _escalation_fields(embed, case.escalation)
    if note:
        embed.add_field(name="Note", value=_clip(note), inline=False)
    embed.set_footer(text=f"policy {verdict.policy_version or '-'} · {verdict.stage}")
    return embed


def _escalation_fields(embed: discord.Embed, escalation: CaseEscalation) -> None:
    """What the frontier model was sent (placeholders mapped back for the moderators only)
    and what came back."""
    embed.add_field(name="Frontier model", value=_clip(_shown(escalation.headline())), inline=False)
    embed.add_field(name="Sent (redacted)", value=_clip(_quote(escalation.text)), inline=False)
    legend = [
        f"{placeholder} = <@{member.group(1)}>"
        if (member := _MEMBER.match(original)) and placeholder.startswith("user")
        else _shown(f"{placeholder} = {original}")
        for placeholder, original in escalation.pseudonyms.items()
    ]
    if legend:
        embed.add_field(name="Who is who", value=_clip("; ".join(legend)), inline=False)
    embed.add_field(name="Came back", value=_clip(_shown(escalation.came_back())), inline=False)


def _scores(verdict: Verdict) -> str:
    scores = verdict.classification.scores if verdict.classification else {}
    ranked = sorted(scores.items(), key=lambda kv: -kv[1])[:5]
    return ", ".join(f"{name} {score:.2f}" for name, score in ranked) or "-"


def _route(verdict: Verdict) -> str:
    return verdict.route.value + (f" · {verdict.category}" if verdict.category else "")


def opinion_embed(opinion: Opinion) -> discord.Embed:
    """The answer to ``/mod ask``: the frontier model's verdict beside the small model's."""
    record, verdict = opinion.record, opinion.verdict
    if record is None:
        title, colour = "Frontier model not asked", discord.Colour.light_grey()
    elif verdict is None:
        title, colour = "Frontier model: no judgement", discord.Colour.light_grey()
    else:
        title, colour = f"Frontier model: {_route(verdict)}", _ROUTE_COLOURS[verdict.route]
    embed = discord.Embed(
        title=title,
        description=_quote(opinion.message.text),
        colour=colour,
        url=opinion.message.permalink,
    )
    if record is None or verdict is None:
        embed.add_field(name="Why not", value=_clip(opinion.unavailable or "-"), inline=False)
    if record is not None:
        sent = (
            f"sent with {record.context_messages} earlier message(s), redacted"
            if record.sent
            else "nothing sent"
        )
        embed.add_field(
            name="Outcome",
            value=f"{record.outcome.value.replace('_', ' ')} · {record.model} · "
            f"cost {record.cost:.4f} {record.currency} · {sent}",
            inline=False,
        )
    if verdict is not None:
        embed.add_field(name="Why", value=_clip(_shown(verdict.explain())), inline=False)
        embed.add_field(name="Scores", value=_scores(verdict), inline=False)
        rationale = verdict.classification.rationale if verdict.classification else None
        if rationale:
            embed.add_field(name="Rationale", value=_clip(_shown(rationale)), inline=False)
    small = opinion.small
    embed.add_field(
        name="Small model",
        value=_clip(f"{_route(small)}: {_shown(small.explain())}"),
        inline=False,
    )
    if opinion.case is not None:
        embed.add_field(
            name="Case",
            value=f"{opinion.case.id} opened in the review queue"
            if opinion.case_opened
            else f"recorded on case {opinion.case.id}",
            inline=False,
        )
    return embed


def warning_embed(*, guild: str, text: str, quote: str, reason: str) -> discord.Embed:
    """What a member is told: the rule, their own words, and that they can appeal."""
    embed = discord.Embed(title=f"A message of yours in {guild}", description=text)
    if quote:
        embed.add_field(name="Your message", value=_quote(quote), inline=False)
    if reason:
        embed.add_field(name="Why", value=_clip(_shown(reason)), inline=False)
    embed.colour = discord.Colour.orange()
    return embed


def verdict_embed(text: str, verdict: Verdict) -> discord.Embed:
    embed = discord.Embed(
        title=f"{verdict.route.value}" + (f" · {verdict.category}" if verdict.category else ""),
        description=_quote(text),
        colour=_ROUTE_COLOURS[verdict.route],
    )
    embed.add_field(name="Why", value=_clip(_shown(verdict.explain())), inline=False)
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
        f"{_clip(_shown(case.message.text.replace(chr(10), ' ')), 80)}"
        for case in cases
    ]
    embed.description = _clip("\n".join(lines), 4000)
    return embed


def stats_embed(stats: Stats, *, warnings: Sequence[str] = ()) -> discord.Embed:
    """The window and any drift warnings in the description, the non-zero numbers as fields
    (an embed holds 25)."""
    embed = discord.Embed(title="Moderation stats", colour=discord.Colour.blurple())
    shown = {k: v for k, v in stats.numbers().items() if v}
    embed.description = f"Over the {stats.window}." + ("" if shown else " No numbers yet.")
    for warning in warnings:
        embed.description += f"\n⚠️ {_shown(warning)}"
    for name, value in list(shown.items())[:25]:
        embed.add_field(name=name.replace("_", " "), value=f"{value:g}", inline=True)
    return embed


def shadow_report_embed(report: ShadowReport) -> discord.Embed:
    """What shadow mode would have done: the counts, then up to ten cases with their links."""
    embed = discord.Embed(title="Shadow mode report", colour=discord.Colour.dark_grey())
    embed.description = f"Over the {report.window}.\n" + "\n".join(report.summary())
    for example in report.examples:
        would = ", ".join(example.would) or "nothing"
        decided = (
            "waiting for a moderator"
            if example.agreed is None
            else f"{example.decision} ({'agrees' if example.agreed else 'disagrees'})"
        )
        link = f"[message]({example.link})" if example.link else f"<#{example.channel}>"
        embed.add_field(
            name=f"Case {example.case_id} · {example.category or 'report'} · {decided}",
            value=_clip(f"would {would} · {link}: {_shown(example.text[:200])}"),
            inline=False,
        )
    return embed
