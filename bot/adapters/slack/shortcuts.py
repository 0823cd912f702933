"""Message shortcuts for moderators on Slack: "Warn author" and "Time out author" (the ⋮ menu
of a message). Each opens a modal for the reason (and the duration), then runs what
``/mod warn`` and ``/mod timeout`` run (:func:`bot.adapters.slack.toolkit.run`), answering the
moderator privately in the message's channel. Rights are checked by the service."""

from __future__ import annotations

import json
from typing import Any

import structlog
from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.adapters.slack import toolkit
from bot.adapters.slack.cards import DURATIONS
from bot.adapters.slack.directory import SlackDirectory
from bot.errors import ReviewError
from bot.review.interface import Moderation

__all__ = ["SHORTCUTS", "VIEW", "modal", "register"]

log = structlog.get_logger(__name__)

#: callback id -> the direct action it starts.
SHORTCUTS = {"mt_warn_author": "warn", "mt_timeout_author": "timeout"}
VIEW = "mt_direct_view"


def _text_input(block_id: str, label: str, *, optional: bool) -> dict[str, Any]:
    return {
        "type": "input", "block_id": block_id, "optional": optional,
        "label": {"type": "plain_text", "text": label},
        "element": {"type": "plain_text_input", "action_id": "value", "multiline": True,
                    "max_length": 1000},
    }  # fmt: skip


def modal(kind: str, member: str, channel: str) -> dict[str, Any]:
    """The modal a shortcut opens; what it acts on travels in ``private_metadata``."""
    blocks: list[dict[str, Any]] = []
    if kind == "timeout":
        options = [
            {"text": {"type": "plain_text", "text": label}, "value": str(seconds)}
            for label, seconds in DURATIONS
        ]
        blocks.append({
            "type": "input", "block_id": "duration",
            "label": {"type": "plain_text", "text": "Away from the channel for"},
            "element": {"type": "static_select", "action_id": "value", "options": options,
                        "initial_option": options[min(2, len(options) - 1)]},
        })  # fmt: skip
    blocks.append(_text_input("reason", "Reason (the member sees it)", optional=kind != "warn"))
    title = "Warn the author" if kind == "warn" else "Time out the author"
    return {
        "type": "modal", "callback_id": VIEW, "title": {"type": "plain_text", "text": title},
        "submit": {"type": "plain_text", "text": "Do it"},
        "private_metadata": json.dumps({"kind": kind, "member": member, "channel": channel}),
        "blocks": blocks,
    }  # fmt: skip


def register(
    app: AsyncApp, *, directory: SlackDirectory, moderation: Moderation, can_delete: bool
) -> None:
    """Listen for the shortcuts and their modal on ``app``."""

    async def ack(ack: AsyncAck) -> None:
        await ack()

    async def opened(body: dict[str, Any], client: AsyncWebClient) -> None:
        kind = SHORTCUTS[str(body["callback_id"])]
        member = str((body.get("message") or {}).get("user") or "")
        channel = str((body.get("channel") or {}).get("id") or "")
        await client.views_open(trigger_id=body["trigger_id"], view=modal(kind, member, channel))

    async def submitted(body: dict[str, Any], client: AsyncWebClient) -> None:
        view = body["view"]
        meta = json.loads(view.get("private_metadata") or "{}")
        values = view.get("state", {}).get("values", {})
        reason = str((values.get("reason", {}).get("value") or {}).get("value") or "").strip()
        words = [str(meta.get("kind")), f"<@{meta.get('member')}>"]
        if meta.get("kind") == "timeout":
            picked = values.get("duration", {}).get("value", {}).get("selected_option") or {}
            words.append(f"{int(picked.get('value') or 3600)}s")
        actor = await directory.actor(body["team"]["id"], body["user"]["id"])
        try:
            answer = await toolkit.run(
                " ".join([*words, reason]), actor=actor, moderation=moderation,
                channel=str(meta.get("channel")), request_id=str(view.get("id")),
                can_delete=can_delete,
            )  # fmt: skip
        except ReviewError as exc:
            answer = str(exc)
        try:
            await client.chat_postEphemeral(
                channel=str(meta.get("channel")), user=body["user"]["id"], text=answer
            )
        except SlackApiError as exc:
            log.warning("shortcut answer not posted", error=str(exc))

    for callback in SHORTCUTS:
        app.message_shortcut(callback)(ack=ack, lazy=[opened])
    app.view(VIEW)(ack=ack, lazy=[submitted])
