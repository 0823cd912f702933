"""Actions out: the :class:`~bot.adapters.base.Adapter` that executes them on Discord.

Every Discord refusal becomes an :class:`~bot.errors.ActionError`; a missing permission
(``Forbidden``) also posts a notice in the moderators' channel saying which permission the bot
lacks, so a misconfigured server is noticed instead of silently doing nothing.
"""

from __future__ import annotations

from datetime import timedelta

import discord
import redis.asyncio as aioredis
import structlog

from bot.action import (
    Action,
    BanUser,
    DeleteMessage,
    KickUser,
    LiftSanction,
    LockChannel,
    NotifyModerators,
    OpenCase,
    PurgeMessages,
    Reply,
    SetSlowmode,
    TimeoutUser,
    WarnUser,
)
from bot.adapters.discord.alerts import DiscordAlerts
from bot.adapters.discord.cards import case_embed, warning_embed
from bot.adapters.discord.channel_actions import perform_channel_action
from bot.adapters.discord.views import appeal_view, case_view, feedback_view
from bot.alerts import critical as is_critical
from bot.case import Case
from bot.errors import ActionError, ReviewError
from bot.review.actor import Actor
from bot.review.interface import Moderation
from bot.streams import Streams
from bot.tenant import Tenant

__all__ = ["MAX_TIMEOUT", "DiscordAdapter"]

log = structlog.get_logger(__name__)

#: Discord refuses communication timeouts longer than 28 days.
MAX_TIMEOUT = timedelta(days=28)

_NEEDS = {
    "delete": "Manage Messages",
    "timeout": "Moderate Members",
    "lift": "Moderate Members (timeouts) or Ban Members (bans)",
    "kick": "Kick Members",
    "ban": "Ban Members",
    "warn": "Send Messages in that channel (the member's DMs are closed)",
    "reply": "Send Messages and Read Message History",
    "notify": "Send Messages in the moderators' channel",
    "open_case": "Send Messages and Embed Links in the moderators' channel",
    "purge": "Manage Messages and Read Message History in that channel",
    "slowmode": "Manage Channels",
    "lock": "Manage Roles (Manage Permissions) in that channel",
}
_VERBS = {
    "delete": "delete a message of",
    "timeout": "time out",
    "lift": "lift the sanction on",
    "kick": "kick",
    "ban": "ban",
    "warn": "warn",
    "reply": "reply to",
    "notify": "notify moderators about",
    "open_case": "post the review card for",
    "purge": "purge messages for",
    "slowmode": "set slowmode for",
    "lock": "lock or unlock the channel for",
}
_DM_CLOSED = 50007


class DiscordAdapter:
    """Performs delete, warn, timeout, kick, ban, lift, reply, notify, open_case, and the
    channel actions purge, slowmode and lock."""

    platform = "discord"
    handles = frozenset(
        {"delete", "warn", "timeout", "kick", "ban", "lift", "reply", "notify", "open_case"}
        | {"purge", "slowmode", "lock"}
    )

    def __init__(
        self,
        *,
        client: discord.Client,
        moderation: Moderation,
        redis: aioredis.Redis,
        streams: Streams,
        mod_channel: str | None = None,
    ) -> None:
        self._client = client
        self._moderation = moderation
        self._redis = redis
        self._streams = streams
        self.alerts = DiscordAlerts(client=client, moderation=moderation, mod_channel=mod_channel)

    async def perform(self, action: Action) -> None:
        """Raises ``TypeError`` for an action type it does not handle and ``ActionError`` when
        Discord refuses (``retry_after`` set when rate limited or Discord is failing)."""
        if action.type not in self.handles:
            raise TypeError(f"the Discord adapter does not handle {action.type!r} actions")
        try:
            await self._perform(action)
        except discord.Forbidden as exc:
            await self._missing_permission(action, exc)
            raise ActionError(action.id, f"Discord refused: {exc.text}", status=403) from exc
        except discord.NotFound as exc:
            raise ActionError(action.id, f"not found on Discord: {exc.text}", status=404) from exc
        except discord.HTTPException as exc:
            retry = 5.0 if exc.status == 429 or exc.status >= 500 else None
            raise ActionError(
                action.id, f"Discord answered {exc.status}: {exc.text}", status=exc.status,
                retry_after=retry,
            ) from exc  # fmt: skip
        except ReviewError as exc:  # the case behind a card or an appeal button is gone
            raise ActionError(action.id, str(exc)) from exc

    async def _perform(self, action: Action) -> None:
        if isinstance(action, PurgeMessages | SetSlowmode | LockChannel):
            await perform_channel_action(self._client, action)
            return
        guild = int(action.workspace)
        user = discord.Object(int(action.user_id))
        reason = action.reason[:512] or None
        if isinstance(action, DeleteMessage):
            if not action.message_id.isdigit():
                log.info("nothing to delete: AutoMod blocked it", action_id=action.id)
                return
            channel = self._client.get_partial_messageable(int(action.channel), guild_id=guild)
            try:
                await channel.get_partial_message(int(action.message_id)).delete()
            except discord.NotFound:
                log.info("message already gone", action_id=action.id)
        elif isinstance(action, WarnUser):
            await self._warn(action)
        elif isinstance(action, TimeoutUser):
            member = await self._member(action)
            duration = min(timedelta(seconds=action.duration_s), MAX_TIMEOUT)
            await member.timeout(duration, reason=reason)
        elif isinstance(action, KickUser):
            await self._guild(action).kick(user, reason=reason)
        elif isinstance(action, BanUser):
            await self._guild(action).ban(
                user, reason=reason, delete_message_seconds=action.delete_message_seconds
            )
        elif isinstance(action, LiftSanction):
            if action.sanction == "ban":
                try:
                    await self._guild(action).unban(user, reason=reason)
                except discord.NotFound:  # not banned (any more): already so
                    log.info("nothing to unban", action_id=action.id)
            else:
                member = await self._member(action)
                await member.timeout(None, reason=reason)
        elif isinstance(action, Reply):
            await self._reply(action)
        elif isinstance(action, NotifyModerators):
            await self._notify(action)
        elif isinstance(action, OpenCase):
            await self._open_case(action)

    def _guild(self, action: Action) -> discord.Guild:
        guild = self._client.get_guild(int(action.workspace))
        if guild is None:
            raise ActionError(action.id, f"the bot is not in guild {action.workspace}", status=404)
        return guild

    async def _member(self, action: Action) -> discord.Member:
        guild = self._guild(action)
        user_id = int(action.user_id)
        return guild.get_member(user_id) or await guild.fetch_member(user_id)

    async def _warn(self, action: WarnUser) -> None:
        case_id = action.case_id  # the worker numbered the case in its commit
        guild = self._client.get_guild(int(action.workspace))
        embed = warning_embed(
            guild=guild.name if guild else "the server",
            text=action.text,
            quote=action.quote,
            reason=action.reason,
        )
        view = appeal_view(action.workspace, case_id) if case_id else None
        try:
            dm = await self._client.create_dm(discord.Object(int(action.user_id)))
            await dm.send(embed=embed, view=view or discord.utils.MISSING)
            return
        except discord.Forbidden as exc:
            if exc.code != _DM_CLOSED:
                raise
        # DMs are closed: say it in the channel, without repeating the member's words (the
        # reason quotes what matched, so it stays out too).
        log.info("DMs closed, warning in channel", action_id=action.id)
        channel = self._client.get_partial_messageable(
            int(action.channel), guild_id=int(action.workspace)
        )
        public = warning_embed(
            guild=guild.name if guild else "the server", text=action.text, quote="", reason=""
        )
        await channel.send(
            content=f"<@{action.user_id}>",
            embed=public,
            view=view or discord.utils.MISSING,
            allowed_mentions=discord.AllowedMentions(users=[discord.Object(int(action.user_id))]),
        )

    async def _reply(self, action: Reply) -> None:
        channel = self._client.get_partial_messageable(
            int(action.channel), guild_id=int(action.workspace)
        )
        reference = discord.MessageReference(
            message_id=int(action.message_id),
            channel_id=int(action.channel),
            guild_id=int(action.workspace),
            fail_if_not_exists=False,
        )
        view = feedback_view(action.faq_id) if action.feedback_buttons and action.faq_id else None
        await channel.send(
            action.text,
            reference=reference,
            view=view or discord.utils.MISSING,
            allowed_mentions=discord.AllowedMentions.none(),
        )

    async def _open_case(self, action: OpenCase) -> None:
        """Post the review card of the case the worker's commit opened (``case_id``)."""
        if action.case_id is None:
            raise ActionError(action.id, "open_case without a case id")
        await self.post_card(await self._moderation.case(self._system(action), action.case_id))

    async def _notify(self, action: NotifyModerators) -> None:
        """A notice about a case (an appeal) comes as that case's card, with its buttons."""
        if action.case_id:
            case = await self._moderation.case(self._system(action), action.case_id)
            posted = await self.post_card(case, note=action.text, critical=action.critical)
        else:
            posted = await self.notify_moderators(
                action.workspace, action.text, critical=action.critical, roles=action.ping_roles
            )
        if not posted:
            log.warning("no moderators' channel for a notice", action_id=action.id)

    @staticmethod
    def _system(action: Action) -> Actor:
        """The adapter itself, reading a case to draw it (cards go to moderators only)."""
        return Actor(
            platform="discord", workspace=action.workspace, user_id="modtriage",
            name="modtriage", is_admin=True,
        )  # fmt: skip

    async def post_card(
        self, case: Case, *, note: str = "", critical: bool = False
    ) -> discord.Message | None:
        """Post a review card with decision buttons (:class:`DiscordAlerts`); None when it
        went nowhere. A card of a critical category (or ``critical``) always reaches someone."""
        tenant = Tenant(platform="discord", workspace=case.message.workspace)
        urgent = critical or is_critical(
            await self._moderation.policy_of(tenant), case.verdict.category
        )
        posted = await self.alerts.send(
            case.message.workspace, critical=urgent, embed=case_embed(case, note=note),
            view=case_view(case),
        )  # fmt: skip
        if posted is None:
            log.warning("no moderators' channel: case only in /mod queue", case_id=case.id)
        return posted

    async def notify_moderators(
        self, workspace: str, text: str, *, critical: bool = False, roles: tuple[str, ...] = ()
    ) -> discord.Message | None:
        """Post in the moderators' channel (:class:`DiscordAlerts`), pinging their role and
        ``roles`` (ids) only."""
        return await self.alerts.send(workspace, critical=critical, content=text, roles=roles)

    async def _missing_permission(self, action: Action, exc: discord.Forbidden) -> None:
        """Tell moderators what the bot could not do and which permission to grant."""
        verb = _VERBS.get(action.type, action.type)
        text = (
            f"⚠️ modtriage could not {verb} <@{action.user_id}> in <#{action.channel}>: "
            f"Discord said *{exc.text or 'Missing Permissions'}*. Give the bot's role "
            f"**{_NEEDS.get(action.type, 'the needed permission')}** and place it above the "
            f"member's highest role." + (f" (case `{action.case_id}`)" if action.case_id else "")
        )
        log.warning("missing permission", action_id=action.id, type=action.type, error=exc.text)
        if action.type in {"notify", "open_case"}:
            return  # the moderators' channel itself refused; the log is all that is left
        try:
            await self.notify_moderators(action.workspace, text)
        except discord.HTTPException as notice_exc:
            log.warning("moderator notice failed too", action_id=action.id, error=str(notice_exc))
