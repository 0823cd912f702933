"""Alerts that always reach someone on Discord.

A guild's alerts go to the channel its moderators chose with ``/mod setup`` (pinging their
role, and only that role), else the ``MODTRIAGE_DISCORD_MOD_CHANNEL`` setting, else the
policy's ``moderators.channel``. With none of them a critical alert (self-harm, sexual
content involving minors, a raid) goes by DM to the guild's owner, read from the gateway's
cache, instead of being dropped; anything else is left in ``/mod queue``.
"""

from __future__ import annotations

from typing import Any

import discord
import structlog

from bot.review.interface import Moderation
from bot.tenant import Tenant

__all__ = ["DiscordAlerts"]

log = structlog.get_logger(__name__)

_NO_CHANNEL = (
    "\n-# You get this because no moderators' channel is set in **{guild}**: "
    "run `/mod setup` there."
)


class DiscordAlerts:
    def __init__(
        self, *, client: discord.Client, moderation: Moderation, mod_channel: str | None = None
    ) -> None:
        self._client = client
        self._moderation = moderation
        self._mod_channel = mod_channel

    async def route(self, workspace: str) -> tuple[discord.abc.Messageable | None, str | None]:
        """The moderators' channel and the role to ping there (either may be None)."""
        tenant = Tenant(platform="discord", workspace=workspace)
        chosen = await self._moderation.alerts_of(tenant)
        if chosen is not None:
            guild_id = int(workspace)
            channel = self._client.get_partial_messageable(int(chosen.channel), guild_id=guild_id)
            return channel, chosen.role
        wanted = self._mod_channel
        if wanted is None:
            wanted = (await self._moderation.policy_of(tenant)).moderators.channel
        return self._channel(workspace, (wanted or "").lstrip("#")), None

    def _channel(self, workspace: str, wanted: str) -> discord.abc.Messageable | None:
        """A channel id, or a channel name looked up in the guild."""
        if not wanted:
            return None
        guild_id = int(workspace)
        if wanted.isdigit():
            return self._client.get_partial_messageable(int(wanted), guild_id=guild_id)
        guild = self._client.get_guild(guild_id)
        if guild is None:
            return None
        found: discord.TextChannel | None = discord.utils.get(guild.text_channels, name=wanted)
        return found

    async def send(
        self,
        workspace: str,
        *,
        critical: bool,
        content: str = "",
        roles: tuple[str, ...] = (),
        **kwargs: Any,
    ) -> discord.Message | None:
        """Post to the moderators' channel, pinging their role (and ``roles``, ids the content
        already mentions); a critical alert without a channel goes to the owner by DM. None
        when it went nowhere."""
        channel, role = await self.route(workspace)
        if channel is not None:
            pinged = list(dict.fromkeys(([role] if role is not None else []) + list(roles)))
            if role is not None:
                content = f"<@&{role}> {content}".strip()
            mentions = (
                discord.AllowedMentions(
                    everyone=False, users=False, roles=[discord.Object(int(r)) for r in pinged]
                )
                if pinged
                else discord.AllowedMentions.none()
            )
            return await channel.send(content[:2000], allowed_mentions=mentions, **kwargs)
        if not critical:
            return None
        return await self._to_owner(workspace, content, **kwargs)

    async def _to_owner(
        self, workspace: str, content: str, **kwargs: Any
    ) -> discord.Message | None:
        guild = self._client.get_guild(int(workspace))
        if guild is None or guild.owner_id is None:
            log.warning("critical alert lost: guild owner unknown", guild=workspace)
            return None
        kwargs.pop("view", None)  # decision buttons work in the server only
        text = (content + _NO_CHANNEL.format(guild=guild.name)).strip()
        dm = await self._client.create_dm(discord.Object(guild.owner_id))
        log.warning("no moderators' channel: critical alert sent to the owner", guild=workspace)
        return await dm.send(text[:2000], allowed_mentions=discord.AllowedMentions.none(), **kwargs)

    async def warn_unrouted(self, guild: discord.Guild) -> None:
        """Say loudly, once per guild served, that its alerts have nowhere to go."""
        channel, _ = await self.route(str(guild.id))
        if channel is None:
            log.warning(
                "no moderators' channel for this guild: alerts only in /mod queue, critical "
                "ones by DM to the owner; run /mod setup in the guild",
                guild=guild.id,
            )
