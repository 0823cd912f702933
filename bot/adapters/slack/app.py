"""The Bolt ``AsyncApp``: events in, moderator commands and buttons, member shortcuts.

Everything is acknowledged within Slack's 3 seconds. Message events are acknowledged only once
the message is in the ingest stream (a few milliseconds; when Redis is down Slack gets a 500 and
re-sends the event, so nothing is lost). Commands, buttons and modals acknowledge at once and do
their work in Bolt lazy listeners, so a slow service call never blocks the acknowledgement.
"""

from __future__ import annotations

import json
import re

import redis.asyncio as aioredis
import structlog
from pydantic import ValidationError
from slack_bolt.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
)
from slack_sdk.web.async_client import AsyncWebClient

from bot.adapters.slack import cards, commands, faq, setup, shortcuts, toolkit
from bot.adapters.slack.directory import SlackDirectory
from bot.adapters.slack.inbound import (
    history_message,
    parse_permalink,
    shortcut_message,
    to_message,
)
from bot.adapters.slack.newcomers import on_team_join
from bot.adapters.slack.outbound import SlackAdapter
from bot.adapters.slack.payloads import (
    BlockActionPayload,
    EventCallback,
    MessageShortcutPayload,
    SlashCommandPayload,
    ViewSubmissionPayload,
)
from bot.adapters.slack.summary import button_reply, fetch_thread
from bot.case import Case
from bot.errors import ActionError, MalformedMessage, ReviewError
from bot.faq.feedback import FaqFeedback
from bot.message import Message
from bot.newcomers import Newcomers
from bot.pipeline.ingest import Ingest
from bot.review.actor import Actor
from bot.review.decision import Decision
from bot.review.interface import Moderation
from bot.streams import Streams

__all__ = ["REPORT_CALLBACK", "SlackBot", "web_client"]

log = structlog.get_logger(__name__)

#: The ``callback_id`` of the "Report message" message shortcut (see the app manifest).
REPORT_CALLBACK = "mt_report"


_SANCTIONS = frozenset({"remove", "warn", "timeout", "kick", "ban"})


def _refusal(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        return f"Not done: {exc.errors()[0]['msg']}"
    return f"Not done: {exc}"


def web_client(token: str, *, base_url: str | None = None, retries: int = 3) -> AsyncWebClient:
    """A Web API client that waits out rate limits (Retry-After) and retries dropped
    connections. ``base_url`` points it elsewhere than slack.com (tests, proxies)."""
    return AsyncWebClient(
        token=token,
        base_url=base_url or AsyncWebClient.BASE_URL,
        retry_handlers=[
            AsyncRateLimitErrorRetryHandler(max_retry_count=retries),
            AsyncConnectionErrorRetryHandler(max_retry_count=retries),
        ],
    )


class SlackBot:
    """Builds the Bolt app and holds what its listeners need."""

    def __init__(
        self,
        *,
        client: AsyncWebClient,
        signing_secret: str | None,
        redis: aioredis.Redis,
        streams: Streams,
        ingest: Ingest,
        moderation: Moderation,
        adapter: SlackAdapter,
        directory: SlackDirectory | None = None,
        moderate_bots: bool = False,
        command: str = "/mod",
    ) -> None:
        self._redis = redis
        self._streams = streams
        self._ingest = ingest
        self._moderation = moderation
        self._adapter = adapter
        self.alerts = adapter.alerts
        self._directory = directory or SlackDirectory(client=client)
        self._moderate_bots = moderate_bots
        self.app = AsyncApp(
            client=client,
            signing_secret=signing_secret,
            # Socket Mode has no signature; HTTP mode always verifies it.
            request_verification_enabled=signing_secret is not None,
            process_before_response=True,
            name="modtriage",
        )
        app = self.app
        app.event("message")(self._on_message)
        app.event("team_join")(on_team_join(Newcomers(redis=redis, streams=streams)))
        app.command(command)(ack=self._ack, lazy=[self._on_mod])
        app.action(re.compile(r"^mt_card_"))(ack=self._ack, lazy=[self._on_card_button])
        app.view(cards.DECISION_VIEW)(ack=self._ack, lazy=[self._on_decision])
        app.action(cards.ACTIONS["appeal"])(ack=self._ack, lazy=[self._on_appeal_button])
        app.action(cards.ACTIONS["summary"])(ack=self._ack, lazy=[self._on_summary_button])
        app.view(cards.APPEAL_VIEW)(ack=self._ack, lazy=[self._on_appeal])
        app.message_shortcut(REPORT_CALLBACK)(ack=self._ack, lazy=[self._on_report])
        faq.register(
            app, directory=self._directory, moderation=moderation,
            feedback=FaqFeedback(redis=redis, streams=streams),
        )  # fmt: skip
        shortcuts.register(
            app, directory=self._directory, moderation=moderation,
            can_delete=adapter.can_delete_members_messages,
        )  # fmt: skip

    # -- inbound messages ---------------------------------------------------------------------

    async def _on_message(self, body: EventCallback) -> None:
        try:
            message = to_message(body)
        except MalformedMessage as exc:
            # Re-sending will not fix it: keep it, with its reason, in the dead-letter stream,
            # less the legacy verification token every event carries (a credential).
            kept = {key: value for key, value in body.items() if key != "token"}
            await self._redis.xadd(
                self._streams.part(0).dead,  # its tenant is unknown: the first partition's
                {"reason": f"slack event: {exc.reason}", "event": json.dumps(kept)},
            )
            log.error("malformed slack event", event_id=body.get("event_id"), reason=exc.reason)
            return
        if message is None or (message.author.is_bot and not self._moderate_bots):
            return
        # Slack sends no roles: the policy's role exemptions read the author's flags and user
        # groups, from the directory's cache (no per-message read of the policy here)
        await self._ingest.publish(await self._directory.with_roles(message))

    # -- moderators ---------------------------------------------------------------------------

    async def _ack(self, ack: AsyncAck) -> None:
        await ack()

    async def _on_mod(
        self, body: SlashCommandPayload, respond: AsyncRespond, client: AsyncWebClient
    ) -> None:
        try:
            if toolkit.handles(body.get("text", "")):
                text = await toolkit.run(
                    body.get("text", ""),
                    actor=await self._directory.actor(body["team_id"], body["user_id"]),
                    moderation=self._moderation,
                    channel=body["channel_id"],
                    request_id=body.get("trigger_id") or body["channel_id"],
                    can_delete=self._adapter.can_delete_members_messages,
                )
                await respond(text=text, response_type="ephemeral")
                return
            if faq.handles(body.get("text", "")):
                text, blocks = await faq.run(
                    body.get("text", ""),
                    actor=await self._directory.actor(body["team_id"], body["user_id"]),
                    moderation=self._moderation,
                )
                await respond(text=text, blocks=blocks, response_type="ephemeral")
                return
            if setup.handles(body.get("text", "")):
                text = await setup.run(
                    body.get("text", ""),
                    actor=await self._directory.actor(body["team_id"], body["user_id"]),
                    moderation=self._moderation,
                    directory=self._directory,
                )
                await respond(text=text, response_type="ephemeral")
                return
            command = commands.parse(body.get("text", ""))
            actor = await self._directory.actor(body["team_id"], body["user_id"])

            async def fetch(link: str) -> Message:
                return await self._fetch_message(client, link, team=body["team_id"])

            async def post_card(case: Case) -> None:
                headline = "Opened after a moderator asked the frontier model"
                await self._post_card(case, f"ask-{case.id}", headline=headline)

            async def thread(channel: str, ts: str, thread_ts: str | None) -> list[Message]:
                return await fetch_thread(
                    client, team=body["team_id"], channel=channel, ts=ts, thread=thread_ts
                )

            text = await commands.run(
                command,
                actor=actor,
                moderation=self._moderation,
                fetch=fetch,
                post_card=post_card,
                link=self._adapter.permalink_of,
                thread=thread,
            )
        except (ValueError, ReviewError) as exc:
            text = str(exc)
        await respond(text=text, response_type="ephemeral")

    async def _fetch_message(self, client: AsyncWebClient, link: str, *, team: str) -> Message:
        """The message a link points at, as Slack returns it now (ValueError: not found)."""
        channel, ts, thread = parse_permalink(link)
        try:
            if thread and thread != ts:
                reply = await client.conversations_replies(
                    channel=channel, ts=thread, latest=ts, inclusive=True, limit=1
                )
            else:
                reply = await client.conversations_history(
                    channel=channel, latest=ts, inclusive=True, limit=1
                )
        except SlackApiError as exc:
            raise ValueError(f"Slack would not show that message: {exc.response['error']}") from exc
        found = [m for m in reply.get("messages") or [] if m.get("ts") == ts]
        if not found:
            raise ValueError("that message was not found (deleted, or modtriage is not in it)")
        try:
            return history_message(found[0], team=team, channel=channel, permalink=link)
        except MalformedMessage as exc:
            raise ValueError(f"that message cannot be read: {exc.reason}") from exc

    async def _on_summary_button(
        self, body: BlockActionPayload, respond: AsyncRespond, client: AsyncWebClient
    ) -> None:
        team = body["team"]["id"]
        text = await button_reply(
            str(body["actions"][0]["value"]),
            actor=await self._directory.actor(team, body["user"]["id"]),
            moderation=self._moderation, client=client, team=team,
        )  # fmt: skip
        await respond(text=text, response_type="ephemeral", replace_original=False)

    async def _on_card_button(
        self, body: BlockActionPayload, respond: AsyncRespond, client: AsyncWebClient
    ) -> None:
        pressed = body["actions"][0]
        kind = pressed["action_id"].removeprefix("mt_card_")
        case_id = str(pressed["value"])
        container = body.get("container", {})
        card = (
            container.get("channel_id") or body["channel"]["id"],
            container.get("message_ts") or body["message"]["ts"],
        )
        actor = await self._directory.actor(body["team"]["id"], body["user"]["id"])
        try:
            case = await self._moderation.case(actor, case_id)
            # a member's report has no category yet: a sanction must say which rule it breaks
            ask_rule = case.category is None and kind in _SANCTIONS
            if kind not in cards.NEEDS_MODAL and not ask_rule:
                await self._decide(
                    client, actor=actor, case_id=case_id, card=card, decision=Decision(kind=kind)
                )
                return
            view = cards.decision_modal(
                case_id=case_id,
                kind=kind,
                card_channel=card[0],
                card_ts=card[1],
                categories=tuple((await self._moderation.policy_of(actor.tenant)).categories)
                if ask_rule
                else (),
            )
            await client.views_open(trigger_id=body["trigger_id"], view=view)
        except (ReviewError, ValidationError) as exc:
            await respond(text=_refusal(exc), response_type="ephemeral", replace_original=False)

    async def _on_decision(self, body: ViewSubmissionPayload, client: AsyncWebClient) -> None:
        view = body["view"]
        meta = json.loads(view["private_metadata"])
        values = view["state"]["values"]
        reason = values.get("reason", {}).get("value", {}).get("value") or ""
        duration = values.get("duration", {}).get("value", {}).get("selected_option")
        category = values.get("category", {}).get("value", {}).get("selected_option")
        actor = await self._directory.actor(body["team"]["id"], body["user"]["id"])
        try:
            decision = Decision(
                kind=meta["kind"],
                reason=reason,
                duration_s=int(duration["value"]) if duration else None,
                category=category["value"] if category else None,
            )
            await self._decide(
                client,
                actor=actor,
                case_id=meta["case"],
                card=(meta["channel"], meta["ts"]),
                decision=decision,
            )
        except (ReviewError, ValidationError) as exc:
            await client.chat_postEphemeral(
                channel=meta["channel"], user=actor.user_id, text=_refusal(exc)
            )

    async def _decide(
        self,
        client: AsyncWebClient,
        *,
        actor: Actor,
        case_id: str,
        card: tuple[str, str],
        decision: Decision,
    ) -> None:
        """Record the decision and update the card in place. The service publishes the
        actions the decision calls for to ``actions:slack``; the dispatcher performs them."""
        case, _ = await self._moderation.decide(actor, case_id, decision)
        text, blocks = cards.review_card(case)
        await client.chat_update(channel=card[0], ts=card[1], text=text, blocks=blocks)

    # -- members ------------------------------------------------------------------------------

    async def _on_appeal_button(self, body: BlockActionPayload, client: AsyncWebClient) -> None:
        case_ref = str(body["actions"][0]["value"])
        await client.views_open(
            trigger_id=body["trigger_id"], view=cards.appeal_modal(case_ref=case_ref)
        )

    async def _on_appeal(self, body: ViewSubmissionPayload, client: AsyncWebClient) -> None:
        """The service queues the appeal and notifies the moderators (as the case's card)."""
        view = body["view"]
        text = view["state"]["values"]["text"]["value"]["value"] or ""
        user = body["user"]["id"]
        member = await self._directory.actor(body["team"]["id"], user)
        try:
            case_id = str(view["private_metadata"])
            case = await self._moderation.appeal(member, case_id, text)
        except ReviewError as exc:
            await client.chat_postMessage(channel=user, text=f"Your appeal was not sent: {exc}")
            return
        await client.chat_postMessage(
            channel=user, text=f"Your appeal on case {case.id} was sent to the moderators."
        )

    async def _on_report(self, body: MessageShortcutPayload, respond: AsyncRespond) -> None:
        try:
            message = shortcut_message(body)
        except MalformedMessage as exc:
            await respond(
                text=f"Could not report that message: {exc.reason}", response_type="ephemeral"
            )
            return
        reporter = await self._directory.actor(body["team"]["id"], body["user"]["id"])
        try:
            case = await self._moderation.report(reporter, message)
        except ReviewError as exc:
            await respond(text=str(exc), response_type="ephemeral")
            return
        await self._post_card(case, f"report-{case.id}")
        await respond(
            text="Thanks, the moderators will look at this message.", response_type="ephemeral"
        )

    async def _post_card(
        self, case: Case, ref: str, headline: str = "Reported by a member"
    ) -> None:
        text, blocks = cards.review_card(case, headline=headline)
        try:
            await self._adapter.post_card(ref, case.message.workspace, text, blocks)
        except ActionError as exc:
            log.error("review card not posted", case_id=case.id, error=exc.reason)
