"""What moderators configure from Slack: where alerts go, switches per channel, the policy.

::

    /mod setup #channel [@group]        alerts go to #channel, mentioning @group
    /mod channel #channel exempt|shadow|faq on|off
                                        switch shadow mode or FAQ answers in one channel
    /mod policy show [category]         the policy as it stands, or one category in full

Channels and groups may be typed as mentions (``<#C0…|name>``, ``<!subteam^S0…|@group>``) or
by name (``#name``, ``@handle``); names are looked up with the Slack directory. The service
checks the moderator's rights first, before any lookup.
"""

from __future__ import annotations

import re

from bot.adapters.slack.directory import SlackDirectory
from bot.errors import InvalidRequest
from bot.review.actor import Actor
from bot.review.interface import Moderation
from bot.review.setup_desk import ChannelSetting

__all__ = ["handles", "run"]

_CHANNEL = re.compile(r"^<#([CG][A-Z0-9]+)(?:\|[^>]*)?>$")
_GROUP = re.compile(r"^<!subteam\^(S[A-Z0-9]+)(?:\|[^>]*)?>$")
_SETTINGS: tuple[ChannelSetting, ...] = ("exempt", "shadow", "faq")
_USAGE = {
    "setup": "`/mod setup #channel @group`",
    "channel": "`/mod channel #channel exempt|shadow|faq on|off`",
    "policy": "`/mod policy show [category]`",
}


def handles(text: str) -> bool:
    """Whether ``/mod <text>`` is one of these commands."""
    head, _, rest = text.strip().partition(" ")
    head = head.lower()
    return head in {"setup", "channel"} or (
        head == "policy" and rest.strip().lower().startswith("show")
    )


async def _channel(word: str, directory: SlackDirectory) -> str:
    mention = _CHANNEL.match(word)
    if mention:
        return mention.group(1)
    found = await directory.channel_id(word) if word else None
    if found is None:
        raise InvalidRequest(f"no channel {word!r} that modtriage can see: invite it there first")
    return found


async def _group(word: str, directory: SlackDirectory) -> str:
    mention = _GROUP.match(word)
    if mention:
        return mention.group(1)
    found = await directory.usergroup_id(word)
    if found is None:
        raise InvalidRequest(f"no user group {word!r} in this workspace")
    return found


async def run(text: str, *, actor: Actor, moderation: Moderation, directory: SlackDirectory) -> str:
    """The reply to show the moderator.

    Raises:
        ReviewError: the service refused, or a channel or group is unknown.
    """
    words = text.split()
    head = words[0].lower()
    args = words[2:] if head == "policy" else words[1:]
    if head == "policy":
        lines = await moderation.show_policy(actor, args[0] if args else None)
        return "\n".join(f"• {line}" if n else f"*{line}*" for n, line in enumerate(lines))
    await moderation.check_moderator(actor, "configure modtriage")
    if head == "setup":
        if not 1 <= len(args) <= 2:
            raise InvalidRequest(f"use {_USAGE['setup']}")
        channel = await _channel(args[0], directory)
        group = await _group(args[1], directory) if len(args) == 2 else None
        await moderation.set_alerts(actor, channel=channel, role=group)
        ping = f", mentioning <!subteam^{group}>" if group else ""
        return f"Alerts now go to <#{channel}>{ping}."
    if len(args) != 3 or args[1].lower() not in _SETTINGS or args[2].lower() not in {"on", "off"}:
        raise InvalidRequest(f"use {_USAGE['channel']}")
    channel = await _channel(args[0], directory)
    setting = next(s for s in _SETTINGS if s == args[1].lower())
    await moderation.switch_channel(actor, channel, setting, args[2].lower() == "on")
    return f"{setting} is now {args[2].lower()} in <#{channel}>."
