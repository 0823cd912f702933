"""The moderator's toolkit on Slack: what Slack lets an app do, and a plain "no" for the rest.

::

    /mod warn @user <reason>               a DM to the member, with an Appeal button
    /mod timeout @user <10m|1h|..> [reason] removed from this channel, invited back when due
    /mod untimeout @user [reason]          invited back now
    /mod purge <n> [@user] [text]          delete the channel's last n messages (admin token)
    /mod note @user <text>                 a staff-only note
    /mod modlogs @user [page]              the member's cases and notes
    /mod kick | ban | unban | slowmode | lock | unlock   what Slack does not let apps do

The service checks the moderator's rights first (a member is refused without learning what
the bot can do), then the command checks what this workspace's modtriage can do (an admin
token for purge) and the service records the case and publishes the actions.
"""

from __future__ import annotations

import re

from bot.errors import InvalidRequest
from bot.policy import parse_duration
from bot.review.actor import Actor
from bot.review.decision import MAX_TIMEOUT_S
from bot.review.interface import Moderation
from bot.review.notices import human_duration
from bot.review.toolkit import OPERATIONS, DirectOutcome, DirectRequest, ModLog

__all__ = ["CANNOT", "KINDS", "handles", "run"]

#: What Slack does not let an app do, said to the moderator who asks for it.
CANNOT = {
    "kick": "Slack does not let an app remove a member from the workspace. Use "
    "`/mod timeout @user <duration>` to remove them from this channel for a while, or ask a "
    "workspace admin to deactivate the account.",
    "ban": "Slack has no ban for apps: only a workspace admin can deactivate an account (in "
    "the admin console). `/mod timeout @user <duration>` removes them from this channel.",
    "unban": "Slack has no ban for apps, so there is nothing to lift: a workspace admin "
    "reactivates a deactivated account in the admin console.",
    "slowmode": "Slack has no slowmode. Channel posting permissions are set by workspace "
    "admins (channel settings, \u201cWho can post\u201d).",
    "lock": "Slack does not let an app lock a channel: a workspace admin can restrict who "
    "may post (channel settings, \u201cWho can post\u201d) or archive it.",
    "unlock": "Slack does not let an app lock or unlock a channel: a workspace admin sets who "
    "may post (channel settings, \u201cWho can post\u201d).",
}
KINDS = frozenset({"warn", "timeout", "untimeout", "purge", "note", "modlogs", *CANNOT})
_USER = re.compile(r"^<@([UW][A-Z0-9]+)(?:\|[^>]*)?>$")
_USAGE = {
    "warn": "`/mod warn @user <reason>`",
    "timeout": "`/mod timeout @user <10m|1h|1d> [reason]`",
    "untimeout": "`/mod untimeout @user [reason]`",
    "purge": "`/mod purge <1-500> [@user] [text]`",
    "note": "`/mod note @user <text>`",
    "modlogs": "`/mod modlogs @user [page]`",
}


def handles(text: str) -> bool:
    """Whether ``/mod <text>`` is a toolkit command."""
    return text.strip().partition(" ")[0].lower() in KINDS


def _member(word: str, kind: str) -> str:
    match = _USER.match(word)
    if match is None:
        raise InvalidRequest(f"{kind} needs a member: {_USAGE[kind]}")
    return match.group(1)


def _done(outcome: DirectOutcome, what: str) -> str:
    case = outcome.case
    if outcome.repeated:
        return f"Already done: case `{case.id}` ({case.decision} by {case.decided_by})."
    return f"Case `{case.id}`: {what}. Recorded in the member's history."


def _modlog(log: ModLog) -> str:
    summary = ", ".join(f"{k} {v}" for k, v in sorted(log.sanctions.items())) or "none"
    lines = [
        f"*Mod log of <@{log.member}>* · page {log.page}/{log.pages} · {log.cases} case(s), "
        f"{log.notes} note(s); sanctions: {summary}"
    ]
    for entry in log.entries:
        when = f"{entry.at:%Y-%m-%d %H:%M}"
        if entry.note is not None:
            lines.append(f"• {when} :memo: note by {entry.note.by}: {entry.note.text}")
        elif entry.case is not None:
            case = entry.case
            did = ", ".join(f"{r.type} ({r.state})" for r in case.actions) or "nothing"
            what = case.decision or case.verdict.category or case.source
            lines.append(
                f"• {when} case `{case.id}` · {what} · {case.status.value} · "
                f"by {case.decided_by or 'modtriage'}: {did}"
            )
    return "\n".join(lines)


async def run(
    text: str,
    *,
    actor: Actor,
    moderation: Moderation,
    channel: str,
    request_id: str,
    can_delete: bool,
) -> str:
    """The answer to ``/mod <text>`` typed in ``channel`` (Slack mrkdwn).

    Raises:
        ReviewError: the service refused, or the command cannot be read.
    """
    words = text.split()
    kind, args = words[0].lower(), words[1:]
    if kind in ("note", "modlogs"):
        if not args:
            raise InvalidRequest(f"{kind} needs a member: {_USAGE[kind]}")
        member = _member(args[0], kind)
        if kind == "note":
            note = " ".join(args[1:])
            await moderation.note(actor, member, note, request_id=request_id)
            return f"Note added to <@{member}>'s mod log."
        page = int(args[1]) if len(args) > 1 and args[1].isdigit() else 1
        return _modlog(await moderation.modlogs(actor, member, page=page))
    await moderation.check_moderator(actor, OPERATIONS[kind])
    if kind in CANNOT:
        return CANNOT[kind]
    if kind == "purge":
        if not can_delete:
            return (
                "Purging needs a workspace admin's user token (`MODTRIAGE_SLACK_ADMIN_TOKEN`, "
                "scope `chat:write`): Slack lets a bot delete only its own messages. Nothing "
                "was done."
            )
        if not args or not args[0].isdigit() or not 1 <= int(args[0]) <= 500:
            raise InvalidRequest(f"purge needs how many: {_USAGE['purge']}")
        count, rest = int(args[0]), args[1:]
        only = _member(rest[0], "purge") if rest and _USER.match(rest[0]) else None
        containing = " ".join(rest[1:] if only else rest) or None
        request = DirectRequest(
            kind="purge", request_id=request_id, channel=channel, member=only, count=count,
            containing=containing,
        )  # fmt: skip
        return _done(await moderation.act(actor, request), f"the last {count} message(s) go")
    if not args:
        raise InvalidRequest(f"{kind} needs a member: {_USAGE[kind]}")
    member, rest = _member(args[0], kind), args[1:]
    seconds = None
    if kind == "timeout":
        try:
            parsed = parse_duration(rest[0]) if rest else None
        except ValueError as exc:
            raise InvalidRequest(f"timeout needs a duration: {_USAGE['timeout']}") from exc
        if not isinstance(parsed, int) or not 0 < parsed <= MAX_TIMEOUT_S:
            raise InvalidRequest(f"timeout needs a duration up to 28 days: {_USAGE['timeout']}")
        seconds, rest = parsed, rest[1:]
    reason = " ".join(rest)
    if kind == "warn" and not reason:
        raise InvalidRequest(f"say why: {_USAGE['warn']}")
    request = DirectRequest(
        kind="warn" if kind == "warn" else "timeout" if kind == "timeout" else "untimeout",
        request_id=request_id, channel=channel, member=member, reason=reason, duration_s=seconds,
    )  # fmt: skip
    what = {
        "warn": f"<@{member}> warned by direct message",
        "timeout": f"<@{member}> removed from <#{channel}> for "
        f"{human_duration(seconds or 0)}, invited back when it ends",
        "untimeout": f"<@{member}> invited back",
    }[kind]
    return _done(await moderation.act(actor, request), what)
