"""Actions out: each action type mapped to what Slack lets an app do.

Slack's limits shape the mapping (the README's "Slack" section says the same):

- ``delete``: a bot token can delete only the bot's own messages. With an admin user token
  (``MODTRIAGE_SLACK_ADMIN_TOKEN``, scope ``chat:write``, from a workspace admin or owner) the
  message is deleted. Without one the message is flagged with a reaction and moderators are told
  it still needs removing by hand; nothing pretends it was removed.
- ``warn``: an ephemeral message to the author in the channel (DM when they left the channel),
  quoting their message, with an Appeal button.
- ``timeout``: Slack has no timeout for apps. The member is removed from the channel
  (``conversations.kick``) and told for how long; in a public channel they could rejoin at once.
  Their return is held in Redis (:mod:`bot.due`) and, when due, released as a ``lift``.
- ``purge``: with the admin token, the channel's last messages (one member's, or containing a
  text) are read with ``conversations.history`` and deleted; without one it is refused.
- ``kick``: ``conversations.kick`` from the channel, where the workspace permits it.
- ``ban``: Slack apps cannot deactivate members; the member is removed from the channel and
  moderators are asked to deactivate them in the admin console.
- ``lift``: the member is invited back to the channel and told.
- ``reply``: a thread reply; FAQ answers carry helpful / not helpful buttons.
- ``notify``: a post in the moderators' channel (for a case awaiting review, such as an
  appeal, its review card), mentioning the group ``/mod setup`` chose; a critical one with
  no channel anywhere goes to the workspace's owners and admins by DM (:mod:`.alerts`).
- ``open_case``: the dispatcher has recorded the case with the moderation service; a review
  card is posted in the moderators' channel.

Rate limits are retried by the SDK's handler; when it gives up, :class:`ActionError` carries
``retry_after`` so the dispatcher tries again later and the action is not lost.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import redis.asyncio as aioredis
import structlog
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.web.async_slack_response import AsyncSlackResponse

from bot.action import (
    Action,
    ActionBase,
    BanUser,
    DeleteMessage,
    KickUser,
    LiftSanction,
    NotifyModerators,
    OpenCase,
    PurgeMessages,
    Reply,
    TimeoutUser,
    WarnUser,
)
from bot.adapters.slack import cards
from bot.adapters.slack.alerts import SlackAlerts
from bot.adapters.slack.directory import SlackDirectory
from bot.due import DueActions
from bot.errors import ActionError
from bot.review.actor import Actor
from bot.review.interface import Moderation
from bot.streams import Streams

__all__ = ["SlackAdapter"]

log = structlog.get_logger(__name__)

#: Errors that mean "already so": kicking someone who is not in the channel, inviting someone
#: who is, deleting a message that is gone.
_ALREADY = {
    "kick": {"not_in_channel"},
    "lift": {"already_in_channel"},
    "delete": {"message_not_found"},
}
_FLAG_REACTION = "warning"
_NETWORK_RETRY_S = 5.0


def _human(seconds: int) -> str:
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size and seconds % size == 0:
            count = seconds // size
            return f"{count} {unit}{'s' if count != 1 else ''}"
    return f"{seconds} seconds"


class SlackAdapter:
    """Performs :mod:`bot.action` actions on one Slack workspace."""

    platform = "slack"
    handles: frozenset[str] = frozenset(
        {"delete", "warn", "timeout", "kick", "ban", "lift", "reply", "notify", "open_case"}
        | {"purge"}
    )

    def __init__(
        self,
        *,
        client: AsyncWebClient,
        moderation: Moderation,
        redis: aioredis.Redis,
        streams: Streams,
        moderators_channel: str | None,
        admin_client: AsyncWebClient | None = None,
        directory: SlackDirectory | None = None,
    ) -> None:
        self._client = client
        self._admin = admin_client
        self._moderation = moderation
        self._redis = redis
        self._streams = streams
        self._due = DueActions(redis=redis, streams=streams)
        self.alerts = SlackAlerts(
            moderation=moderation,
            directory=directory or SlackDirectory(client=client),
            moderators_channel=moderators_channel,
        )

    @property
    def can_delete_members_messages(self) -> bool:
        return self._admin is not None

    async def perform(self, action: Action) -> None:
        """Raises TypeError for unhandled action types, ActionError when Slack refuses."""
        if action.type not in self.handles:
            raise TypeError(f"the Slack adapter does not handle {action.type!r}")
        match action:
            case DeleteMessage():
                await self._delete(action)
            case WarnUser():
                await self._warn(action)
            case TimeoutUser():
                await self._remove(action, f"for {_human(action.duration_s)}")
                back = LiftSanction.model_validate(
                    action.model_dump(exclude={"type", "duration_s"})
                    | {"id": f"{action.id}-return", "sanction": "timeout"}
                )
                when = datetime.now(UTC) + timedelta(seconds=action.duration_s)
                await self._due.hold(back, until=when)
            case PurgeMessages():
                await self._purge(action)
            case KickUser():
                await self._remove(action, "")
            case BanUser():
                await self._ban(action)
            case LiftSanction():
                await self._lift(action)
            case Reply():
                text, blocks = cards.faq_reply(action)
                await self._call(
                    action.id,
                    self._client.chat_postMessage,
                    channel=action.channel,
                    thread_ts=action.thread or action.message_id,
                    text=text,
                    blocks=blocks,
                )
            case NotifyModerators():
                await self._notify(action)
            case OpenCase():
                await self._open_case(action)

    async def permalink(self, action: Action) -> str | None:
        """Best effort: a link to the message, or None when Slack will not give one."""
        return await self.permalink_of(action.channel, action.message_id)

    async def permalink_of(self, channel: str, ts: str) -> str | None:
        """Best effort: a link to the message ``ts`` of ``channel``, or None."""
        try:
            reply = await self._client.chat_getPermalink(channel=channel, message_ts=ts)
        except (SlackApiError, aiohttp.ClientError, TimeoutError):
            return None
        link = reply.get("permalink")
        return link if isinstance(link, str) else None

    async def channel_for_moderators(self, workspace: str) -> str | None:
        """The moderators' channel (:class:`~bot.adapters.slack.alerts.SlackAlerts`)."""
        return (await self.alerts.channel(workspace))[0]

    async def post_card(
        self, action_id: str, workspace: str, text: str, blocks: cards.Blocks | None, *,
        critical: bool = False,
    ) -> str | None:  # fmt: skip
        """Post a card (or a notice) where the workspace's alerts go, mentioning the
        moderators' group; a critical one without a channel goes to the owners and admins by
        DM. Returns the first message's ts; None when it went nowhere."""
        where = await self.alerts.destination(workspace, critical=critical)
        if not where.to:
            log.warning("no moderators' channel set; card not posted", action_id=action_id)
            return None
        if where.direct:
            log.warning("critical alert sent to the owners by DM", action_id=action_id)
        text, blocks = where.compose(text, blocks)
        first: str | None = None
        for channel in where.to:
            reply = await self._call(
                action_id, self._client.chat_postMessage, channel=channel, text=text,
                blocks=blocks, unfurl_links=False,
            )  # fmt: skip
            ts = reply.get("ts")
            first = first or (ts if isinstance(ts, str) else None)
        return first

    def _system(self, workspace: str) -> Actor:
        """modtriage itself, reading a case to render it."""
        return Actor(platform="slack", workspace=workspace, user_id="modtriage", is_admin=True)

    async def _open_case(self, action: OpenCase) -> None:
        """The dispatcher recorded the case (``case_id``); post its review card."""
        if action.case_id is None:
            raise ActionError(
                action.id,
                "open_case without a case id: run the dispatcher with the moderation service",
            )
        case = await self._moderation.case(self._system(action.workspace), action.case_id)
        text, blocks = cards.review_card(case, permalink=await self.permalink(action))
        critical = await self.alerts.critical(action.workspace, case.verdict.category)
        await self.post_card(action.id, action.workspace, text, blocks, critical=critical)

    async def _notify(self, action: NotifyModerators) -> None:
        """A notice for moderators; about a case that waits for them (an appeal), it comes as
        that case's card, with the buttons to decide it."""
        link = await self.permalink(action)
        critical = action.critical
        if action.case_id is not None:
            case = await self._moderation.case(self._system(action.workspace), action.case_id)
            critical = critical or await self.alerts.critical(
                action.workspace, case.verdict.category
            )
            if case.awaiting_review:
                text, blocks = cards.review_card(case, permalink=link, headline=action.text)
                await self.post_card(action.id, action.workspace, text, blocks, critical=critical)
                return
        await self.post_card(
            action.id, action.workspace, cards.notify_text(action, permalink=link), None,
            critical=critical,
        )  # fmt: skip

    async def _delete(self, action: DeleteMessage) -> None:
        if self._admin is not None:
            await self._call(
                action.id,
                self._admin.chat_delete,
                channel=action.channel,
                ts=action.message_id,
                already=_ALREADY["delete"],
            )
            return
        await self._call(
            action.id,
            self._client.reactions_add,
            channel=action.channel,
            timestamp=action.message_id,
            name=_FLAG_REACTION,
            already={"already_reacted"},
        )
        link = await self.permalink(action)
        where = f"<{link}|this message>" if link else f"a message in <#{action.channel}>"
        await self._to_moderators(
            action,
            f":warning: {where} by <@{action.user_id}> should be removed, but modtriage has no "
            "admin token and Slack lets a bot delete only its own messages. Please remove it "
            f"by hand. Reason: {action.reason}",
        )

    async def _warn(self, action: WarnUser) -> None:
        text, blocks = cards.notice(action, case_ref=action.case_id or action.message_key)
        if action.dm:
            await self._dm(action.id, action.user_id, text, blocks)
            return
        try:
            await self._call(
                action.id,
                self._client.chat_postEphemeral,
                channel=action.channel,
                user=action.user_id,
                text=text,
                blocks=blocks,
            )
        except ActionError as exc:
            if exc.reason not in {"user_not_in_channel", "channel_not_found", "not_in_channel"}:
                raise
            # The member left the channel (or it is gone): tell them in a direct message.
            await self._dm(action.id, action.user_id, text, blocks)

    async def _remove(self, action: ActionBase, how_long: str) -> None:
        await self._call(
            action.id,
            self._client.conversations_kick,
            channel=action.channel,
            user=action.user_id,
            already=_ALREADY["kick"],
        )
        if how_long:
            await self._dm(
                action.id,
                action.user_id,
                f"You were removed from <#{action.channel}> {how_long}. Reason: {action.reason}",
            )

    async def _ban(self, action: BanUser) -> None:
        await self._remove(action, "")
        await self._to_moderators(
            action,
            f":no_entry: <@{action.user_id}> was removed from <#{action.channel}>. Slack does "
            "not let apps ban members: a workspace admin must deactivate the account. "
            f"Reason: {action.reason}",
        )

    async def _purge(self, action: PurgeMessages) -> None:
        """Delete the channel's last matching messages with the admin token (newest first,
        among the last 1,000)."""
        if self._admin is None:
            raise ActionError(action.id, "purging needs MODTRIAGE_SLACK_ADMIN_TOKEN")
        reply = await self._call(
            action.id, self._client.conversations_history, channel=action.channel, limit=1000
        )
        chosen = [
            m
            for m in reply.get("messages") or []
            if (action.only_user is None or m.get("user") == action.only_user)
            and (
                action.containing is None
                or action.containing.casefold() in str(m.get("text", "")).casefold()
            )
        ][: action.count]
        for message in chosen:
            await self._call(
                action.id, self._admin.chat_delete, channel=action.channel, ts=message["ts"],
                already=_ALREADY["delete"],
            )  # fmt: skip

    async def _lift(self, action: LiftSanction) -> None:
        invited = await self._call(
            action.id,
            self._client.conversations_invite,
            channel=action.channel,
            users=action.user_id,
            already=_ALREADY["lift"],
        )
        if invited.get("already"):  # back already (lifted earlier, or they rejoined)
            return
        await self._dm(
            action.id,
            action.user_id,
            f"Your {action.sanction} was lifted; you were added back to <#{action.channel}>.",
        )

    async def _dm(
        self, action_id: str, user: str, text: str, blocks: cards.Blocks | None = None
    ) -> None:
        # Posting to a user id delivers to the app's DM with them (needs only chat:write).
        await self._call(
            action_id, self._client.chat_postMessage, channel=user, text=text, blocks=blocks
        )

    async def _to_moderators(self, action: ActionBase, text: str) -> None:
        await self.post_card(action.id, action.workspace, text, None)

    async def _call(
        self,
        action_id: str,
        method: Callable[..., Awaitable[AsyncSlackResponse]],
        *,
        already: set[str] | frozenset[str] = frozenset(),
        **kwargs: Any,
    ) -> AsyncSlackResponse | dict[str, Any]:
        """Call one Web API method; Slack's refusals become ActionError.

        Raises:
            ActionError: with ``retry_after`` for rate limits and network trouble (the
                dispatcher retries), without it for refusals that retrying cannot fix.
        """
        try:
            reply = await method(**kwargs)
        except SlackApiError as exc:
            error = str(exc.response.get("error", "unknown_error"))
            if error in already:
                return {"ok": True, "already": error}
            retry_after: float | None = None
            if exc.response.status_code == 429 or error == "ratelimited":
                retry_after = float(exc.response.headers.get("Retry-After", "1") or 1)
            elif exc.response.status_code >= 500:
                retry_after = _NETWORK_RETRY_S
            log.warning("slack refused", action_id=action_id, error=error)
            raise ActionError(
                action_id, error, status=exc.response.status_code, retry_after=retry_after
            ) from exc
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise ActionError(
                action_id, f"network: {exc or type(exc).__name__}", retry_after=_NETWORK_RETRY_S
            ) from exc
        return reply
