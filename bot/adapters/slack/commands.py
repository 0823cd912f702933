"""The ``/mod`` slash command: parse, call the moderation service, render. Thin on purpose.

::

    /mod queue                 open cases waiting for review
    /mod case <id>             one case with its history
    /mod history @user         a member's cases
    /mod test <text>           what the policy would decide, without acting
    /mod stats [days]          volumes and rates over the last days (default 7)
    /mod policy reload         load the policy file again (a bad file keeps the old one)
    /mod shadow on|off [#channel|category]
                               decide and record only, or enforce (everywhere or in one place)
    /mod shadow report [days]  what shadow mode would have done (default the last 7 days),
                               and how moderators decided those cases
    /mod ask <message link>    the frontier model's opinion on an existing message, with its
                               thread (recorded on its case; a case is opened if it calls
                               for review or action)
    /mod summary <case id | message link>
                               the thread in five lines, who did what, the rules that fired,
                               links and a suggested action (bot.adapters.slack.summary)
    /mod backtest <version> [days]
                               what a stored policy version would have done to the last days'
                               messages (default 30; bot.adapters.slack.backtest)
    /mod faq suggest [days] | faq accept <id> [answer]
                               FAQ entries from repeated questions (bot.adapters.slack.faq)

Permissions are checked by the service; its refusals are shown to the moderator as they are.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Literal, get_args

from pydantic import BaseModel, ConfigDict

from bot.adapters.slack import backtest, cards
from bot.adapters.slack.summary import FetchThread, summary_reply
from bot.case import Case
from bot.insights.shadow_report import ShadowReport
from bot.message import Message
from bot.review.actor import Actor
from bot.review.interface import Moderation
from bot.review.opinion import Opinion
from bot.stats import MAX_DAYS
from bot.verdict import Verdict

__all__ = ["USAGE", "ModCommand", "parse", "run"]

Name = Literal[
    "queue",
    "case",
    "history",
    "test",
    "stats",
    "policy",
    "shadow",
    "ask",
    "summary",
    "backtest",
    "help",
]
FetchMessage = Callable[[str], Awaitable[Message]]
"""Given a Slack message link, the message (raises ValueError with a reason to show)."""
PostCard = Callable[[Case], Awaitable[None]]
"""Post a case's review card to the moderators' channel."""
LinkFor = Callable[[str, str], Awaitable[str | None]]
"""Given a channel and a message ts, the message's permalink (None when Slack gives none)."""

USAGE = (
    "*/mod* commands: `queue` · `case <id>` · `history @user` · `test <text>` · `stats [days]` · "
    "`policy reload` · `shadow on|off [#channel|category]` · `shadow report [days]` · "
    "`ask <message link>` (the frontier model's opinion) · `summary <case id | message link>` · "
    "`setup #channel @group` · `channel #channel exempt|shadow|faq on|off` · "
    "`policy show [category]` · `backtest <policy version> [days]` · "
    "`faq suggest [days]` · `faq accept <suggestion id> [answer]`"
)
_CHANNEL = re.compile(r"^<#([CG][A-Z0-9]+)(?:\|[^>]*)?>$")
_CATEGORY = re.compile(r"^[a-z][a-z0-9_]*$")
_USER = re.compile(r"^<@([UW][A-Z0-9]+)(?:\|[^>]*)?>$|^([UW][A-Z0-9]+)$")
_NEEDS_ARG = {
    "case": "`/mod case <id>`",
    "history": "`/mod history @user`",
    "test": "`/mod test <text>`",
    "ask": "`/mod ask <message link>`",
    "summary": "`/mod summary <case id | message link>`",
    "backtest": backtest.USAGE,
}


class ModCommand(BaseModel):
    model_config = ConfigDict(frozen=True)

    name: Name
    arg: str = ""


def parse(text: str) -> ModCommand:
    """Raises ValueError with what to type instead."""
    head, _, rest = text.strip().partition(" ")
    name, arg = head.lower() or "help", rest.strip()
    if name not in get_args(Name):
        raise ValueError(f"unknown subcommand {head!r}. {USAGE}")
    if name in _NEEDS_ARG and not arg:
        raise ValueError(f"{name} needs an argument: {_NEEDS_ARG[name]}")
    if name == "history" and not _USER.match(arg):
        raise ValueError("history needs a member: `/mod history @user`")
    if name == "stats" and arg and not (arg.isdigit() and 1 <= int(arg) <= MAX_DAYS):
        raise ValueError(f"stats takes a number of days, 1 to {MAX_DAYS}: `/mod stats 30`")
    if name == "backtest":
        backtest.check(arg)
    if name == "policy" and arg.lower() != "reload":
        raise ValueError("did you mean `/mod policy reload` or `/mod policy show`?")
    if name == "shadow" and arg.partition(" ")[0].lower() == "report":
        days = arg.partition(" ")[2].strip()
        if days and not (days.isdigit() and 1 <= int(days) <= MAX_DAYS):
            raise ValueError(
                f"shadow report takes a number of days, 1 to {MAX_DAYS}: `/mod shadow report 7`"
            )
    elif name == "shadow":
        switch, _, where = arg.partition(" ")
        where = where.strip()
        if switch.lower() not in {"on", "off"} or (
            where and not (_CHANNEL.match(where) or _CATEGORY.match(where))
        ):
            raise ValueError(
                "use `/mod shadow on` or `/mod shadow off`, optionally followed by a #channel "
                "or a category, or `/mod shadow report [days]`"
            )
    return ModCommand.model_validate({"name": name, "arg": arg})


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _line(case: Case) -> str:
    text = case.message.text.replace("\n", " ")
    short = text if len(text) <= 80 else text[:79] + "…"
    return (
        f"• `{case.id}` · {case.verdict.category or 'report'} · {case.status.value} · "
        f"<@{case.message.author.id}> in <#{case.message.channel}>: {_escape(short)}"
    )


def _verdict(verdict: Verdict) -> str:
    category = f" · {verdict.category}" if verdict.category else ""
    shadow = " (shadow mode: would record only)" if verdict.shadow else ""
    return f"*{verdict.route.value}*{category}{shadow}\n{_escape(verdict.explain())}"


def _quote(text: str, limit: int = 1500) -> str:
    clipped = text if len(text) <= limit else text[: limit - 1] + "…"
    return "> " + _escape(clipped).replace("\n", "\n> ")


def _case(case: Case) -> str:
    lines = [
        f"*Case `{case.id}`* · {case.status.value} · {case.verdict.category or 'report'}",
        f"<@{case.message.author.id}> in <#{case.message.channel}>:",
        _quote(case.message.text),
        _verdict(case.verdict),
    ]
    if case.escalation is not None:
        lines.append(cards.escalation_text(case.escalation))
    lines += [
        f"• {e.at:%Y-%m-%d %H:%M} {e.kind} by {e.actor}"
        + (f": {_escape(e.detail)}" if e.detail else "")
        for e in case.events
    ]
    return "\n".join(lines)


def _scores(verdict: Verdict) -> str:
    scores = verdict.classification.scores if verdict.classification else {}
    ranked = sorted(scores.items(), key=lambda kv: -kv[1])[:5]
    return ", ".join(f"{name} {score:.2f}" for name, score in ranked)


def _opinion(opinion: Opinion) -> str:
    small = "The small model's verdict: " + _verdict(opinion.small)
    record = opinion.record
    if record is None:
        return f"The frontier model was not asked: {_escape(opinion.unavailable or '')}.\n{small}"
    outcome = record.outcome.value.replace("_", " ")
    sent = (
        f"sent with {record.context_messages} earlier message(s), redacted"
        if record.sent
        else "nothing sent"
    )
    lines = [
        f"*Frontier model* `{record.model}` · {outcome} · cost {record.cost:.4f} "
        f"{record.currency} · {sent}"
    ]
    verdict = opinion.verdict
    if verdict is None:
        lines.append(f"It did not judge the message: {_escape(opinion.unavailable or outcome)}.")
    else:
        lines.append(_verdict(verdict))
        lines.append(f"Scores: {_scores(verdict)}")
        rationale = verdict.classification.rationale if verdict.classification else None
        if rationale:
            lines.append(_quote(rationale, 500))
    lines.append(small)
    if opinion.case is not None:
        lines.append(
            f"Case `{opinion.case.id}` opened in the review queue."
            if opinion.case_opened
            else f"Recorded on case `{opinion.case.id}`."
        )
    return "\n".join(lines)


async def _shadow_report(report: ShadowReport, link: LinkFor | None) -> str:
    lines = [f"*Shadow mode, {report.window}*", *(f"• {line}" for line in report.summary())]
    if report.examples:
        lines.append("*Examples*")
    for example in report.examples:
        url = example.link
        if url is None and link is not None:  # as the review cards do: Slack's permalink
            url = await link(example.channel, example.message_id)
        where = f"<{url}|message>" if url else f"<#{example.channel}>"
        would = ", ".join(example.would) or "nothing"
        decided = (
            "waiting for a moderator"
            if example.agreed is None
            else f"{example.decision} ({'agrees' if example.agreed else 'disagrees'})"
        )
        text = example.text.replace("\n", " ")
        short = text if len(text) <= 80 else text[:79] + "…"
        lines.append(
            f"• `{example.case_id}` · {example.category or 'report'} · would {would} · "
            f"{decided} · {where}: {_escape(short)}"
        )
    return "\n".join(lines)


async def run(
    command: ModCommand,
    *,
    actor: Actor,
    moderation: Moderation,
    fetch: FetchMessage,
    post_card: PostCard | None = None,
    link: LinkFor | None = None,
    thread: FetchThread | None = None,
) -> str:
    """The reply to show the moderator (Slack mrkdwn). ``/mod ask`` posts the card of a case
    it opened with ``post_card``; ``/mod shadow report`` links its examples with ``link``;
    ``/mod summary`` reads the thread with ``thread``.

    Raises:
        ReviewError: the service refused (not a moderator, unknown case, ...).
        ValueError: a message link that cannot be read.
    """
    match command.name:
        case "queue":
            cases = await moderation.queue(actor)
            if not cases:
                return "The review queue is empty."
            return f"*{len(cases)} open case(s)*, oldest first:\n" + "\n".join(map(_line, cases))
        case "case":
            return _case(await moderation.case(actor, command.arg.strip("`")))
        case "history":
            match = _USER.match(command.arg)
            user = (match.group(1) or match.group(2)) if match else command.arg
            cases = await moderation.history(actor, user)
            if not cases:
                return f"No cases for <@{user}>."
            return f"*Cases for <@{user}>*, newest first:\n" + "\n".join(map(_line, cases))
        case "test":
            return "Under the current policy: " + _verdict(
                await moderation.test(actor, command.arg)
            )
        case "stats":
            stats = await moderation.stats(actor, days=int(command.arg or 7))
            drift = await moderation.score_drift(actor)
            lines = [f"• {k}: {v:g}" for k, v in stats.numbers().items()]
            lines += [f":warning: {_escape(line)}" for line in drift.lines()]
            return f"*Stats, {stats.window}*\n" + "\n".join(lines)
        case "policy":
            version = await moderation.reload_policy(actor)
            return f"Policy reloaded: version `{version}`."
        case "shadow" if command.arg.partition(" ")[0].lower() == "report":
            days = command.arg.partition(" ")[2].strip()
            return await _shadow_report(
                await moderation.shadow_report(actor, days=int(days or 7)), link
            )
        case "shadow":
            switch, _, where = command.arg.partition(" ")
            on = switch.lower() == "on"
            channel = _CHANNEL.match(where.strip())
            category = where.strip() if where.strip() and not channel else None
            await moderation.set_shadow(
                actor, on, channel=channel.group(1) if channel else None, category=category
            )
            scope = (
                f" in <#{channel.group(1)}>" if channel else f" for {category}" if category else ""
            )
            return (
                f"Shadow mode *on*{scope}: modtriage decides and records, and enforces nothing."
                if on
                else f"Shadow mode *off*{scope}: modtriage enforces the policy."
            )
        case "ask":
            opinion = await moderation.ask(actor, await fetch(command.arg))
            if opinion.case_opened and opinion.case is not None and post_card is not None:
                await post_card(opinion.case)
            return _opinion(opinion)
        case "summary" if thread is not None:
            return await summary_reply(
                command.arg, actor=actor, moderation=moderation, fetch=thread
            )
        case "backtest":
            return await backtest.backtest_reply(command.arg, actor=actor, moderation=moderation)
        case _:
            return USAGE
