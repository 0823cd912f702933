"""Who is asking, as the moderation service needs it: an :class:`~bot.review.actor.Actor` with
roles taken from Slack.

Slack has no roles. ``admin`` and ``owner`` come only from Slack's own flags on the member
(``is_admin``, ``is_owner``); every user group the member belongs to becomes
``usergroup:<handle>`` (``@moderators`` -> ``usergroup:moderators``), so a policy's
``moderators.roles`` can name a user group, and a group someone called ``@admin`` grants
nothing. It also finds a channel by name, a user group by handle, and the workspace's
owners and admins (who get critical alerts when no moderators' channel is set). Lookups
are cached for ``ttl_s``. When Slack refuses
a lookup (a missing scope) the member gets no roles: permissions fail closed.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import aiohttp
import structlog
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.message import Message
from bot.review.actor import Actor

__all__ = ["SlackDirectory"]

log = structlog.get_logger(__name__)


class SlackDirectory:
    def __init__(
        self,
        *,
        client: AsyncWebClient,
        ttl_s: float = 300.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client = client
        self._ttl_s = ttl_s
        self._clock = clock
        self._users: dict[str, tuple[float, tuple[str, bool, tuple[str, ...]]]] = {}
        self._groups: tuple[float, dict[str, tuple[str, ...]]] | None = None
        self._group_ids: dict[str, str] = {}
        self._owners: tuple[float, tuple[str, ...]] | None = None

    async def actor(self, team: str, user_id: str, name: str = "") -> Actor:
        display, is_admin, roles = await self._user(user_id)
        groups = await self._user_groups()
        roles = roles + tuple(
            f"usergroup:{h}" for h, members in groups.items() if user_id in members
        )
        return Actor(
            platform="slack",
            workspace=team,
            user_id=user_id,
            name=display or name,
            roles=tuple(dict.fromkeys(roles)),
            is_admin=is_admin,
        )

    async def with_roles(self, message: Message) -> Message:
        """``message`` with its author's roles as :meth:`actor` finds them, so a policy's role
        exemptions (``roles: {usergroup:staff: {exempt: all}}``) apply on Slack too; cached,
        so a busy channel costs a lookup per member per ``ttl_s``."""
        if message.author.is_bot:
            return message
        actor = await self.actor(message.workspace, message.author.id)
        author = message.author.model_copy(update={"roles": actor.roles})
        return message.model_copy(update={"author": author})

    async def _user(self, user_id: str) -> tuple[str, bool, tuple[str, ...]]:
        cached = self._users.get(user_id)
        if cached and self._clock() - cached[0] < self._ttl_s:
            return cached[1]
        try:
            reply = await self._client.users_info(user=user_id)
        except (SlackApiError, aiohttp.ClientError, TimeoutError) as exc:
            log.warning("users.info failed; no roles", user=user_id, error=str(exc))
            return "", False, ()
        user: dict[str, Any] = reply.get("user") or {}
        profile: dict[str, Any] = user.get("profile") or {}
        flags = tuple(flag for flag in ("admin", "owner") if user.get(f"is_{flag}"))
        name = str(profile.get("display_name") or user.get("real_name") or user.get("name") or "")
        found = (name, bool(flags), flags)
        self._users[user_id] = (self._clock(), found)
        return found

    async def _user_groups(self) -> dict[str, tuple[str, ...]]:
        if self._groups and self._clock() - self._groups[0] < self._ttl_s:
            return self._groups[1]
        try:
            reply = await self._client.usergroups_list(include_users=True)
        except (SlackApiError, aiohttp.ClientError, TimeoutError) as exc:
            log.warning("usergroups.list failed; no group roles", error=str(exc))
            return {}
        listed = [g for g in reply.get("usergroups") or [] if g.get("handle")]
        groups = {str(g["handle"]): tuple(g.get("users") or ()) for g in listed}
        self._group_ids = {str(g["handle"]): str(g.get("id", "")) for g in listed}
        self._groups = (self._clock(), groups)
        return groups

    async def usergroup_id(self, handle: str) -> str | None:
        """The id of the user group ``@handle`` (None: no such group, or Slack refused)."""
        await self._user_groups()
        return self._group_ids.get(handle.lstrip("@")) or None

    async def channel_id(self, name: str) -> str | None:
        """The id of the channel ``#name`` the bot can see (None: not found)."""
        wanted = name.lstrip("#")
        try:
            async for page in await self._client.conversations_list(
                exclude_archived=True, types="public_channel,private_channel", limit=1000
            ):
                for channel in page.get("channels") or []:
                    if channel.get("name") == wanted:
                        return str(channel["id"])
        except (SlackApiError, aiohttp.ClientError, TimeoutError) as exc:
            log.warning("conversations.list failed", error=str(exc))
        return None

    async def owners(self) -> tuple[str, ...]:
        """The workspace's owners and admins (``users.list``, cached): who gets a critical
        alert when no moderators' channel is set. Empty when Slack refuses."""
        if self._owners and self._clock() - self._owners[0] < self._ttl_s:
            return self._owners[1]
        found: list[str] = []
        try:
            async for page in await self._client.users_list(limit=200):
                found += [
                    str(u["id"])
                    for u in page.get("members") or []
                    if (u.get("is_owner") or u.get("is_admin"))
                    and not u.get("deleted")
                    and not u.get("is_bot")
                ]
        except (SlackApiError, aiohttp.ClientError, TimeoutError) as exc:
            log.warning("users.list failed; no owners to alert", error=str(exc))
            return ()
        owners = tuple(found)
        self._owners = (self._clock(), owners)
        return owners
