"""``/mod summary <case id | message link>`` on Slack: the message's thread (or the channel up
to it) read back from Slack, summarised by the moderation service, rendered as mrkdwn."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.adapters.slack.inbound import history_message, parse_permalink
from bot.errors import MalformedMessage, ReviewError
from bot.insights.summary import ThreadSummary
from bot.message import Message
from bot.review.actor import Actor
from bot.review.interface import Moderation

__all__ = [
    "THREAD_MESSAGES",
    "FetchThread",
    "button_reply",
    "fetch_thread",
    "render",
    "summary_reply",
]

#: Messages read back from Slack for one summary: the message and those before it.
THREAD_MESSAGES = 30

FetchThread = Callable[[str, str, str | None], Awaitable[list[Message]]]
"""Given a channel, a message ts and its thread ts (or None), the message with those before it
in its thread (else in the channel), as Slack has them now."""

_CASE_ID = re.compile(r"^`?([A-Za-z0-9_-]{1,40})`?$")


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


async def fetch_thread(
    client: AsyncWebClient,
    *,
    team: str,
    channel: str,
    ts: str,
    thread: str | None,
    limit: int = THREAD_MESSAGES,
) -> list[Message]:
    """``conversations.replies`` up to ``ts`` in a thread, else ``conversations.history`` up to
    it; messages Slack gives that modtriage cannot read (joins, files only) are left out.

    Raises:
        ValueError: Slack refused (the reason is safe to show the moderator).
    """
    try:
        if thread:
            reply = await client.conversations_replies(
                channel=channel, ts=thread, latest=ts, inclusive=True, limit=limit
            )
        else:
            reply = await client.conversations_history(
                channel=channel, latest=ts, inclusive=True, limit=limit
            )
    except SlackApiError as exc:
        raise ValueError(f"Slack would not show that thread: {exc.response['error']}") from exc
    found = []
    for event in reply.get("messages") or []:
        try:
            found.append(history_message(event, team=team, channel=channel, permalink=""))
        except MalformedMessage:
            continue
    return found


def render(summary: ThreadSummary, *, title: str) -> str:
    """The summary as mrkdwn: gist quoted, then who is who, rules, links and the suggestion."""
    how = {
        "extractive": f"extractive ({summary.model})",
        "vllm": f"written by `{summary.model}`",
        "extractive-fallback": "extractive (the model's answer was not usable)",
    }[summary.method]
    lines = [f"*Summary of {title}* · {summary.messages} message(s) · {how}"]
    lines += [f"> {_escape(line)}" for line in summary.gist]
    lines.append(
        "*Who:* "
        + "; ".join(f"{p.who} = <@{p.user}>: {_escape(p.did)}" for p in summary.participants)
    )
    if summary.rules:
        lines.append(
            "*Rules:* "
            + "; ".join(
                f"{r.category} ({r.rule}) {r.top_score:.2f} in {r.messages}" for r in summary.rules
            )
        )
    if summary.links:
        lines.append("*Links:* " + " · ".join(_escape(link) for link in summary.links))
    suggested = summary.suggested
    then = f" → {', '.join(suggested.actions)}" if suggested.actions else ""
    category = f" · {suggested.category}" if suggested.category else ""
    lines.append(
        f"*Suggested:* {suggested.route.value}{category}{then}: {_escape(suggested.reason)}"
    )
    if summary.note:
        lines.append(f"_{_escape(summary.note)}_")
    return "\n".join(lines)


async def summary_reply(
    arg: str, *, actor: Actor, moderation: Moderation, fetch: FetchThread
) -> str:
    """What ``/mod summary <arg>`` answers: a message link's thread, or a case's.

    Raises:
        ReviewError: the service refused (not a moderator, unknown case, ...).
        ValueError: a link or case id that cannot be read.
    """
    arg = arg.strip()
    if "slack.com/archives/" in arg:
        channel, ts, thread = parse_permalink(arg)
        summary = await moderation.summarise(actor, await fetch(channel, ts, thread))
        return render(summary, title="the thread")
    match = _CASE_ID.match(arg)
    if match is None:
        raise ValueError("summary takes a case id or a message link: `/mod summary 12`")
    case = await moderation.case(actor, match.group(1))
    message = case.message
    around = await fetch(message.channel, message.id, message.thread)
    summary = await moderation.summarise(actor, around, case_id=case.id)
    return render(summary, title=f"case `{case.id}`")


async def button_reply(
    case_id: str, *, actor: Actor, moderation: Moderation, client: AsyncWebClient, team: str
) -> str:
    """What the "Summary" button on a case card answers the moderator who pressed it."""

    async def thread(channel: str, ts: str, thread_ts: str | None) -> list[Message]:
        return await fetch_thread(client, team=team, channel=channel, ts=ts, thread=thread_ts)

    try:
        return await summary_reply(case_id, actor=actor, moderation=moderation, fetch=thread)
    except (ValueError, ReviewError) as exc:
        return str(exc)
