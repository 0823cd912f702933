"""Gateway events in: messages, edits, thread messages and AutoMod executions become
:class:`~bot.message.Message` entries on the ingest stream. Nothing here waits on a model."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import discord
import structlog
from discord.ext import commands
from redis.exceptions import RedisError

from bot.adapters.discord.convert import (
    automod_payload_of,
    automod_to_message,
    payload_of,
    to_message,
)
from bot.adapters.discord.payloads import MessagePayload
from bot.errors import MalformedMessage
from bot.message import Message

if TYPE_CHECKING:
    from bot.adapters.discord.bot import ModtriageBot

__all__ = ["Inbound", "role_names"]

log = structlog.get_logger(__name__)


def role_names(guild: discord.Guild | None) -> dict[str, str]:
    return {} if guild is None else {str(role.id): role.name for role in guild.roles}


class Inbound(commands.Cog):
    def __init__(self, *, bot: ModtriageBot) -> None:
        self.bot = bot

    def _is_own(self, author_id: int | str) -> bool:
        return self.bot.user is not None and str(author_id) == str(self.bot.user.id)

    async def _publish(self, build: Any, *args: Any, **kwargs: Any) -> None:
        try:
            message: Message = build(*args, **kwargs)
        except MalformedMessage as exc:
            log.warning("Discord event skipped", reason=exc.reason)
            return
        try:
            await self.bot.ingest.publish(message)
        except (RedisError, OSError) as exc:
            # Discord will not send this event again: the id goes to the log so it can be
            # replayed from the channel history.
            log.error("message not ingested", message_key=message.key, error=str(exc))

    @commands.Cog.listener()
    async def on_message(self, message: discord.Message) -> None:
        if message.guild is None or self._is_own(message.author.id):
            return
        if message.edited_at is not None:
            # discord.py updates cached messages in place: an edit that arrived before this
            # handler ran already replaced the text, and its edit event ingests it.
            return
        thread = str(message.channel.id) if isinstance(message.channel, discord.Thread) else None
        await self._publish(
            to_message, payload_of(message), role_names=role_names(message.guild), thread=thread
        )

    @commands.Cog.listener()
    async def on_raw_message_edit(self, event: discord.RawMessageUpdateEvent) -> None:
        """Edits are moderated again: an edit can turn a harmless message into a slur."""
        data: Any = event.data
        if event.guild_id is None or "content" not in data or "author" not in data:
            return
        if self._is_own(data["author"]["id"]):
            return
        before = event.cached_message
        if before is not None and before.content == data["content"]:
            return  # an embed unfurled or a pin changed; the words did not
        payload: MessagePayload = data
        guild = self.bot.get_guild(event.guild_id)
        channel = self.bot.get_channel(event.channel_id)
        thread = str(event.channel_id) if isinstance(channel, discord.Thread) else None
        await self._publish(
            to_message,
            payload,
            role_names=role_names(guild),
            guild_id=str(event.guild_id),
            thread=thread,
            edited=True,
        )

    @commands.Cog.listener()
    async def on_automod_action(self, execution: discord.AutoModAction) -> None:
        """Discord's own AutoMod blocked a message, so no MESSAGE_CREATE will come: ingest
        the blocked text so it counts in the member's history. Alert-only and timeout rule
        actions are skipped: their message arrives as a normal MESSAGE_CREATE."""
        if execution.action.type is not discord.AutoModRuleActionType.block_message:
            return
        await self._publish(
            automod_to_message,
            automod_payload_of(execution),
            role_names=role_names(self.bot.get_guild(execution.guild_id)),
        )
