"""FAQ on Slack: moderators' suggestions and members' votes on answers.

::

    /mod faq suggest [days]               new entries from questions members kept asking that
                                          no entry answered (default the last 7 days), each
                                          with an "Add to FAQ" button when it has a draft answer
    /mod faq accept <id> [answer text]    add one (with this answer, else its draft)

and the Helpful / Not helpful buttons under an FAQ answer (one vote per member per answer).
Thin: parse, call the service, render; the service checks the moderator's rights, and a
suggestion of another workspace is "not found".
"""

from __future__ import annotations

from typing import Any

import aiohttp
import structlog
from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.adapters.slack import cards
from bot.adapters.slack.directory import SlackDirectory
from bot.errors import InvalidRequest, ReviewError
from bot.faq.entries import FaqEntry
from bot.faq.feedback import FaqFeedback
from bot.faq.suggestions import FaqSuggestion
from bot.review.actor import Actor
from bot.review.interface import Moderation

__all__ = ["ACCEPT_ACTION", "USAGE", "handles", "register", "run", "suggestion_blocks"]

log = structlog.get_logger(__name__)

ACCEPT_ACTION = "mt_faq_accept"
USAGE = "`/mod faq suggest [days]` or `/mod faq accept <suggestion id> [answer text]`"
#: Suggestions one answer shows (Slack allows 50 blocks; each takes three).
_SHOWN = 10


def handles(text: str) -> bool:
    """Whether ``/mod <text>`` is one of these commands."""
    return text.strip().partition(" ")[0].lower() == "faq"


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _quote(text: str) -> str:
    return "> " + _escape(text).replace("\n", "\n> ")


def _summary(suggestion: FaqSuggestion) -> str:
    lines = [
        f"*`{suggestion.id}`* · asked {suggestion.asked} times by {suggestion.members} members"
        f" · as entry `{suggestion.faq_id}`",
        *(f"• {_escape(q)}" for q in suggestion.questions[:5]),
    ]
    if suggestion.answer:
        lines += [f"Draft answer (a {suggestion.answer_by}'s reply):", _quote(suggestion.answer)]
    else:
        lines.append(f"No draft answer: `/mod faq accept {suggestion.id} <answer text>`")
    return "\n".join(lines)[:2900]


def suggestion_blocks(found: list[FaqSuggestion]) -> tuple[str, cards.Blocks]:
    """The ephemeral answer to ``/mod faq suggest``: each suggestion, and its button."""
    shown = found[:_SHOWN]
    more = f" (the first {_SHOWN} shown)" if len(found) > _SHOWN else ""
    text = f"*{len(found)} suggested FAQ entries*{more}"
    blocks: cards.Blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": text}}]
    for suggestion in shown:
        blocks.append({"type": "divider"})
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": _summary(suggestion)}})
        if suggestion.answer:
            blocks.append({
                "type": "actions", "block_id": f"faq-{suggestion.id}",
                "elements": [{
                    "type": "button", "action_id": ACCEPT_ACTION, "style": "primary",
                    "text": {"type": "plain_text", "text": "Add to FAQ"},
                    "value": suggestion.id,
                }],
            })  # fmt: skip
    return text, blocks


def _added(entry: FaqEntry) -> str:
    return (
        f"Added `{entry.id}` to the FAQ with {len(entry.questions)} questions; the next member "
        f"who asks gets this answer:\n{_quote(entry.answer)}"
    )


async def run(
    text: str, *, actor: Actor, moderation: Moderation
) -> tuple[str, cards.Blocks | None]:
    """The reply to show the moderator, and its blocks.

    Raises:
        ReviewError: the service refused, or the command is mistyped.
    """
    words = text.split()
    verb = words[1].lower() if len(words) > 1 else ""
    if verb == "suggest" and len(words) <= 3:
        days = words[2] if len(words) == 3 else "7"
        if not days.isdigit():
            raise InvalidRequest(f"faq suggest takes a number of days: {USAGE}")
        found = await moderation.suggest_faq(actor, days=int(days))
        if not found:
            return (
                "No suggestions: no question the FAQ does not answer was asked by enough "
                f"members in the last {days} days.",
                None,
            )
        return suggestion_blocks(found)
    if verb == "accept" and len(words) >= 3:
        answer = text.strip().split(None, 3)[3] if len(words) > 3 else None
        entry = await moderation.accept_faq(actor, words[2], answer=answer)
        return _added(entry), None
    raise InvalidRequest(f"use {USAGE}")


def register(
    app: AsyncApp, *, directory: SlackDirectory, moderation: Moderation, feedback: FaqFeedback
) -> None:
    """Listen for "Add to FAQ" and the votes on FAQ answers on ``app``."""

    async def ack(ack: AsyncAck) -> None:
        await ack()

    async def accepted(body: dict[str, Any], respond: AsyncRespond) -> None:
        pressed = body["actions"][0]
        actor = await directory.actor(body["team"]["id"], body["user"]["id"])
        try:
            text = _added(await moderation.accept_faq(actor, str(pressed.get("value") or "")))
        except ReviewError as exc:
            text = f"Not added: {exc}"
        await respond(text=text, response_type="ephemeral", replace_original=False)

    async def voted(body: dict[str, Any], client: AsyncWebClient) -> None:
        pressed = body["actions"][0]
        helpful = pressed["action_id"] == cards.ACTIONS["faq_helpful"]
        message = body.get("message", {})
        await feedback.record(
            faq_id=str(pressed.get("value") or "unknown"),
            helpful=helpful,
            voter=body["user"]["id"],
            answer=f"{body['channel']['id']}:{message.get('ts', '')}",
        )
        try:
            await client.chat_update(
                channel=body["channel"]["id"],
                ts=message["ts"],
                text=message.get("text", ""),
                blocks=cards.faq_thanks(message.get("text", ""), helpful),
            )
        except (SlackApiError, aiohttp.ClientError) as exc:
            log.warning("could not update FAQ reply", error=str(exc))

    app.action(ACCEPT_ACTION)(ack=ack, lazy=[accepted])
    app.action(cards.ACTIONS["faq_helpful"])(ack=ack, lazy=[voted])
    app.action(cards.ACTIONS["faq_unhelpful"])(ack=ack, lazy=[voted])
