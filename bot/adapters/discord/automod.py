"""Mirror the policy's deny lists into one Discord AutoMod keyword rule, so the obvious cases
are blocked before they are even sent. Discord matches keywords as whole words (so
"assistance" never matches "ass") but knows no leetspeak; modtriage still sees everything
else, and what AutoMod blocks reaches it as an AutoMod execution event."""

from __future__ import annotations

from collections.abc import Iterable

import discord
import structlog

__all__ = ["RULE_NAME", "mirror_deny_lists"]

log = structlog.get_logger(__name__)

RULE_NAME = "modtriage deny list"
_MAX_KEYWORDS = 1000  # Discord's limit per keyword rule
_MAX_KEYWORD_CHARS = 60
_BLOCKED = "This message breaks this community's rules. modtriage blocked it."


async def mirror_deny_lists(
    guild: discord.Guild, *, terms: Iterable[str], exempt_roles: Iterable[str] = ()
) -> discord.AutoModRule | None:
    """Create or update the rule; None when there is nothing to mirror. ``exempt_roles`` are
    the policy's moderator roles: role ids (a name matches nothing, as in the service).

    Raises:
        discord.Forbidden: the bot lacks Manage Server.
    """
    keywords = sorted(
        {t.strip().lower() for t in terms if 0 < len(t.strip()) <= _MAX_KEYWORD_CHARS}
    )[:_MAX_KEYWORDS]
    if not keywords:
        return None
    exempt = set(exempt_roles)
    roles = [role for role in guild.roles if str(role.id) in exempt]
    trigger = discord.AutoModTrigger(
        type=discord.AutoModRuleTriggerType.keyword, keyword_filter=keywords
    )
    actions = [discord.AutoModRuleAction(custom_message=_BLOCKED)]
    reason = "modtriage: mirror the policy's deny lists"
    existing = next((r for r in await guild.fetch_automod_rules() if r.name == RULE_NAME), None)
    if existing is not None:
        rule = await existing.edit(
            trigger=trigger, actions=actions, enabled=True, exempt_roles=roles, reason=reason
        )
    else:
        rule = await guild.create_automod_rule(
            name=RULE_NAME,
            event_type=discord.AutoModRuleEventType.message_send,
            trigger=trigger,
            actions=actions,
            enabled=True,
            exempt_roles=roles,
            reason=reason,
        )
    log.info("AutoMod rule mirrored", guild=guild.id, keywords=len(keywords))
    return rule
