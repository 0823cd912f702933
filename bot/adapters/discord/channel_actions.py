"""Channel actions on Discord: purge, slowmode, lock and unlock (the adapter's part of
``/mod purge``, ``/mod slowmode``, ``/mod lock``).

- ``purge``: reads the channel's history (newest first, up to 1,000 messages, pinned ones
  kept), picks the last ``count`` that match (one member's, or containing a text), deletes
  those younger than 14 days in bulk (100 per request; Discord refuses older ones in bulk) and
  the older ones one by one.
- ``slowmode``: the channel's ``rate_limit_per_user``.
- ``lock``: the ``@everyone`` overwrite denies Send Messages (in threads too) and the bot's
  own member overwrite allows it, so its notices still reach the channel; ``unlock`` puts
  both permissions of the ``@everyone`` overwrite back to neutral (inherited), dropping the
  overwrite when nothing else is in it.
"""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime, timedelta

import discord

from bot.action import LockChannel, PurgeMessages, SetSlowmode
from bot.errors import ActionError

__all__ = ["ChannelAction", "perform_channel_action"]

ChannelAction = PurgeMessages | SetSlowmode | LockChannel

_SCAN = 1000
_BULK = 100
_BULK_AGE = timedelta(days=14)


async def _channel(client: discord.Client, action: ChannelAction) -> discord.TextChannel:
    channel = client.get_channel(int(action.channel)) or await client.fetch_channel(
        int(action.channel)
    )
    if not isinstance(channel, discord.TextChannel):
        raise ActionError(action.id, f"channel {action.channel} is not a text channel")
    return channel


async def perform_channel_action(client: discord.Client, action: ChannelAction) -> None:
    """Raises discord.HTTPException when Discord refuses, ActionError for a channel that is
    not a text channel."""
    channel = await _channel(client, action)
    reason = action.reason[:512] or None
    if isinstance(action, PurgeMessages):
        await _purge(channel, action, reason)
    elif isinstance(action, SetSlowmode):
        await channel.edit(slowmode_delay=action.seconds, reason=reason)
    else:
        await _lock(channel, action.locked, reason)


def _matches(message: discord.Message, action: PurgeMessages) -> bool:
    if message.pinned:
        return False
    if action.only_user is not None and str(message.author.id) != action.only_user:
        return False
    return action.containing is None or action.containing.casefold() in message.content.casefold()


async def _purge(channel: discord.TextChannel, action: PurgeMessages, reason: str | None) -> None:
    chosen: list[discord.Message] = []
    async for message in channel.history(limit=_SCAN):
        if _matches(message, action):
            chosen.append(message)
            if len(chosen) >= action.count:
                break
    cutoff = datetime.now(UTC) - _BULK_AGE + timedelta(minutes=1)
    young = [m for m in chosen if m.created_at > cutoff]
    old = [m for m in chosen if m.created_at <= cutoff]
    for start in range(0, len(young), _BULK):
        await channel.delete_messages(young[start : start + _BULK], reason=reason)
    for message in old:
        with contextlib.suppress(discord.NotFound):  # gone already
            await message.delete()


async def _lock(channel: discord.TextChannel, locked: bool, reason: str | None) -> None:
    guild = channel.guild
    everyone = channel.overwrites_for(guild.default_role)
    state = False if locked else None
    everyone.update(send_messages=state, send_messages_in_threads=state)
    if locked:
        own = channel.overwrites_for(guild.me)
        own.update(send_messages=True, send_messages_in_threads=True)
        await channel.set_permissions(guild.me, overwrite=own, reason=reason)
    await channel.set_permissions(
        guild.default_role, overwrite=None if everyone.is_empty() else everyone, reason=reason
    )
