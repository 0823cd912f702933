"""``/mod summary <case id | message link>`` on Discord: the message and those before it in its
channel or thread, read back from Discord, summarised by the moderation service, shown as an
embed only the moderator sees."""

from __future__ import annotations

import contextlib
import re
from typing import TYPE_CHECKING, Any

import discord

from bot.adapters.discord.convert import parse_message_link, payload_of, to_message
from bot.adapters.discord.events import role_names
from bot.adapters.discord.views import actor_of
from bot.errors import MalformedMessage
from bot.insights.summary import ThreadSummary
from bot.message import Message
from bot.verdict import Route

if TYPE_CHECKING:
    from bot.adapters.discord.bot import ModtriageBot

__all__ = ["THREAD_MESSAGES", "summarise", "summary_embed"]

#: Messages read back from Discord for one summary: the message and those before it.
THREAD_MESSAGES = 30

_CASE_ID = re.compile(r"^`?([A-Za-z0-9_-]{1,40})`?$")
_COLOURS = {
    Route.ALLOW: discord.Colour.green(),
    Route.REVIEW: discord.Colour.orange(),
    Route.ESCALATE: discord.Colour.gold(),
    Route.ACT: discord.Colour.red(),
}


def _shown(text: str, limit: int = 1000) -> str:
    """As typed: markdown and mentions escaped, so member text cannot style or ping."""
    text = discord.utils.escape_mentions(discord.utils.escape_markdown(text))
    return text if len(text) <= limit else text[: limit - 1] + "…"


async def _thread(
    bot: ModtriageBot,
    interaction: discord.Interaction[Any],
    channel_id: str,
    message_id: str,
    limit: int,
) -> list[Message]:
    """The message (when it still exists) and up to ``limit - 1`` before it.

    Raises:
        ValueError: Discord would not show them (the reason is safe to show).
    """
    try:
        channel = bot.get_channel(int(channel_id)) or await bot.fetch_channel(int(channel_id))
        if not isinstance(channel, discord.TextChannel | discord.Thread):
            raise ValueError("that is not a message in a text channel or thread")
        found = [
            m
            async for m in channel.history(limit=limit - 1, before=discord.Object(int(message_id)))
        ]
        with contextlib.suppress(discord.NotFound):  # removed? the case keeps its text
            found.append(await channel.fetch_message(int(message_id)))
    except discord.NotFound as exc:
        raise ValueError("that channel was not found (deleted?)") from exc
    except discord.Forbidden as exc:
        raise ValueError("modtriage may not read that channel's history") from exc
    thread = str(channel.id) if isinstance(channel, discord.Thread) else None
    names = role_names(interaction.guild)
    messages = []
    for message in found:
        try:
            messages.append(
                to_message(
                    payload_of(message),
                    role_names=names,
                    guild_id=str(interaction.guild_id),
                    thread=thread,
                )
            )
        except MalformedMessage:
            continue  # a system message (joins, pins): nothing to summarise
    return messages


async def summarise(
    bot: ModtriageBot,
    interaction: discord.Interaction[Any],
    target: str,
    *,
    limit: int = THREAD_MESSAGES,
) -> tuple[ThreadSummary, str]:
    """The summary of a message link's channel or thread, or of a case's, and its title.

    Raises:
        ReviewError: the service refused (not a moderator, unknown case, ...).
        ValueError: a link or case id that cannot be read.
    """
    actor = actor_of(interaction)
    target = target.strip()
    if "/channels/" in target:
        guild_id, channel_id, message_id = parse_message_link(target)
        if guild_id != str(interaction.guild_id):
            raise ValueError("that message is in another server")
        messages = await _thread(bot, interaction, channel_id, message_id, limit)
        return await bot.moderation.summarise(actor, messages), "the thread"
    match = _CASE_ID.match(target)
    if match is None:
        raise ValueError("summary takes a case id or a message link (Copy Message Link)")
    case = await bot.moderation.case(actor, match.group(1))
    message = case.message
    messages = await _thread(bot, interaction, message.channel, message.id, limit)
    summary = await bot.moderation.summarise(actor, messages, case_id=case.id)
    return summary, f"case {case.id}"


def summary_embed(summary: ThreadSummary, *, title: str) -> discord.Embed:
    """The gist quoted, then who is who, the rules that fired, links and the suggestion."""
    how = {
        "extractive": f"extractive · {summary.model}",
        "vllm": f"written by {summary.model}",
        "extractive-fallback": "extractive: the model's answer was not usable",
    }[summary.method]
    embed = discord.Embed(
        title=f"Summary of {title}",
        description="\n".join(f"> {_shown(line, 300)}" for line in summary.gist),
        colour=_COLOURS[summary.suggested.route],
    )
    who = "\n".join(f"{p.who} = <@{p.user}>: {_shown(p.did, 200)}" for p in summary.participants)
    embed.add_field(name="Who", value=who[:1024] or "-", inline=False)
    if summary.rules:
        rules = "\n".join(
            f"{r.category} ({r.rule}) {r.top_score:.2f} in {r.messages}" for r in summary.rules
        )
        embed.add_field(name="Rules", value=rules[:1024], inline=False)
    if summary.links:
        links = "\n".join(f"`{link}`" for link in summary.links)  # shown, not followed
        embed.add_field(name="Links", value=links[:1024], inline=False)
    suggested = summary.suggested
    then = f" → {', '.join(suggested.actions)}" if suggested.actions else ""
    category = f" · {suggested.category}" if suggested.category else ""
    embed.add_field(
        name="Suggested",
        value=f"{suggested.route.value}{category}{then}: {_shown(suggested.reason, 300)}",
        inline=False,
    )
    footer = f"{summary.messages} message(s) · {how}"
    embed.set_footer(text=f"{footer} · {summary.note}" if summary.note else footer)
    return embed
