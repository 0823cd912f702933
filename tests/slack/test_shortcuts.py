"""Moderators' message shortcuts on Slack, as a chat log: Maria picks "Warn author" on Eve's
message, fills in the reason, and Eve is warned by DM with a case recorded; "Time out author"
removes her from the channel; a member who is not a moderator is told no and nothing happens."""

from __future__ import annotations

import json
from typing import Any

import pytest

from bot.review.service import ModerationService
from tests.slack.conftest import SlackStack, payload
from tests.slack.test_moderators import MOD

pytestmark = [pytest.mark.slack, pytest.mark.toolkit]


async def _shortcut(slack: SlackStack, callback: str, *, user: str = "U0MOD") -> dict[str, Any]:
    """``user`` picks the shortcut on Eve's message; returns the modal Slack was asked to open."""
    body = payload("message_shortcut_report", RESPONSE_URL=slack.fake.response_url("sc"))
    body["callback_id"] = callback
    body["user"]["id"] = user
    before = len(slack.fake.received("views.open"))
    status, _ = await slack.interaction(body)
    assert status == 200
    opened = (await slack.fake.wait_for("views.open", before + 1))[before]
    view = opened.args["view"]
    return dict(json.loads(view) if isinstance(view, str) else view)


async def _submit(
    slack: SlackStack, view: dict[str, Any], values: dict[str, Any], *, user: str = "U0MOD"
) -> str:
    """Submit the modal; returns what the moderator was told (an ephemeral message)."""
    body = payload("view_submission_decision", METADATA="{}", REASON="")
    body["user"]["id"] = user
    body["view"].update(
        id=f"V-{len(slack.fake.calls)}", callback_id=view["callback_id"],
        private_metadata=view["private_metadata"], state={"values": values},
    )  # fmt: skip
    before = len(slack.fake.received("chat.postEphemeral"))
    status, _ = await slack.interaction(body)
    assert status == 200
    told = await slack.fake.wait_for("chat.postEphemeral", before + 1)
    mine = [c for c in told[before:] if c.args["user"] == user]
    assert mine, told
    return str(mine[-1].args["text"])


def _reason(text: str) -> dict[str, Any]:
    return {"reason": {"value": {"type": "plain_text_input", "value": text}}}


async def test_warn_author_from_the_message_menu(
    slack: SlackStack, moderation: ModerationService
) -> None:
    view = await _shortcut(slack, "mt_warn_author")
    assert view["title"]["text"] == "Warn the author"
    assert json.loads(view["private_metadata"]) == {
        "kind": "warn", "member": "U0EVE", "channel": "C0GENERAL",
    }  # fmt: skip
    told = await _submit(slack, view, _reason("keep it civil"))
    assert told.startswith("Case `")
    assert "<@U0EVE> warned by direct message" in told
    posts = await slack.fake.wait_for("chat.postMessage")
    [dm] = [c for c in posts if c.args["channel"] == "U0EVE"]
    assert "keep it civil" in json.dumps(dm.args)
    [case] = await moderation.history(MOD, "U0EVE")
    assert (case.source, case.decision) == ("direct", "warn")


async def test_time_out_author_removes_them_from_the_channel(
    slack: SlackStack, moderation: ModerationService
) -> None:
    view = await _shortcut(slack, "mt_timeout_author")
    [duration, _] = view["blocks"]
    picked = duration["element"]["initial_option"]
    told = await _submit(
        slack, view,
        _reason("cool off") | {"duration": {"value": {"type": "static_select",
                                                       "selected_option": picked}}},
    )  # fmt: skip
    assert "<@U0EVE> removed from <#C0GENERAL>" in told
    [kick] = await slack.fake.wait_for("conversations.kick")
    assert (kick.args["channel"], kick.args["user"]) == ("C0GENERAL", "U0EVE")
    [case] = await moderation.history(MOD, "U0EVE")
    assert case.decision == "timeout"


async def test_a_member_cannot_use_the_moderators_shortcuts(
    slack: SlackStack, moderation: ModerationService
) -> None:
    view = await _shortcut(slack, "mt_warn_author", user="U0ALICE")
    told = await _submit(slack, view, _reason("you too"), user="U0ALICE")
    assert "moderators only" in told
    assert await moderation.history(MOD, "U0EVE") == []
    assert slack.fake.received("conversations.kick") == []
