"""Moderators and members in Slack: ``/mod``, review-card buttons and modals, reports and
appeals, against the real moderation service on Redis and a fake Slack."""

from __future__ import annotations

import json
from typing import Any

import pytest

from bot.case import CaseStatus
from bot.review.actor import Actor
from bot.review.service import ModerationService
from tests.slack.conftest import MODS, SlackStack, payload

pytestmark = pytest.mark.slack

MOD = Actor(platform="slack", workspace="T0TEAM", user_id="U0MOD", roles=("usergroup:moderator",))


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


def _buttons(blocks: Any) -> list[str]:
    if isinstance(blocks, str):
        blocks = json.loads(blocks)
    return [e["action_id"] for b in blocks if b["type"] == "actions" for e in b["elements"]]


async def _mod(slack: SlackStack, text: str, *, user: str = "U0MOD", hook: str = "h1") -> str:
    """Type ``/mod <text>`` and return what modtriage answered (ephemeral, via response_url)."""
    fields = payload("slash_mod", RESPONSE_URL=slack.fake.response_url(hook))
    fields.update(text=text, user_id=user)
    before = len(slack.fake.responses)
    status, body = await slack.command(fields)
    assert (status, body) == (200, "")  # acknowledged at once, answered later
    responses = await slack.fake.wait_responses(before + 1)
    answer = responses[before]
    assert answer["hook"] == hook
    assert answer["response_type"] == "ephemeral"
    return str(answer["text"])


async def _report(slack: SlackStack, moderation: ModerationService) -> str:
    """Alice reports Eve's message with the shortcut; returns the open case's id."""
    body = payload("message_shortcut_report", RESPONSE_URL=slack.fake.response_url("report"))
    before = len(slack.fake.responses)
    status, _ = await slack.interaction(body)
    assert status == 200
    thanks = (await slack.fake.wait_responses(before + 1))[before]
    assert thanks["text"] == "Thanks, the moderators will look at this message."
    [case] = await moderation.queue(MOD)
    return case.id


async def test_queue_case_history_and_stats(
    slack: SlackStack, moderation: ModerationService
) -> None:
    assert await _mod(slack, "queue") == "The review queue is empty."
    case_id = await _report(slack, moderation)
    queue = await _mod(slack, "queue")
    assert queue.startswith("*1 open case(s)*")
    assert f"`{case_id}`" in queue
    assert "where Jenny lives" in await _mod(slack, f"case {case_id}")
    assert f"`{case_id}`" in await _mod(slack, "history <@U0EVE|eve>")
    assert await _mod(slack, "history <@U0ALICE>") == "No cases for <@U0ALICE>."
    assert "• queue: 1" in await _mod(slack, "stats")
    today = await _mod(slack, "stats 1")
    assert today.startswith("*Stats, last day (")
    assert "• cases_opened: 1" in today
    assert "• route:report: 1" in today
    assert (await _mod(slack, "stats")).startswith("*Stats, last 7 days (")
    assert "a number of days, 1 to 400" in await _mod(slack, "stats 0")


async def test_members_cannot_use_mod(slack: SlackStack) -> None:
    answer = await _mod(slack, "queue", user="U0ALICE")
    assert answer == "slack:U0ALICE may not see the review queue: moderators only"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("test you f4gg0t", "Under the current policy: *act* · hate"),
        ("test can someone help with the assistance form?", "Under the current policy: *allow*"),
        ("frobnicate", "unknown subcommand 'frobnicate'"),
        ("case", "case needs an argument: `/mod case <id>`"),
        ("shadow maybe", "use `/mod shadow on` or `/mod shadow off`"),
        ("shadow on <#C0GENERAL|general>", "Shadow mode *on* in <#C0GENERAL>"),
        ("shadow on spam", "Shadow mode *on* for spam"),
        ("shadow on nonsense", "unknown category 'nonsense'"),
        ("case 999999", "no case '999999'"),
        ("ask https://evil.example/x", "is not a Slack message link"),
    ],
)
async def test_mod_answers(slack: SlackStack, text: str, expected: str) -> None:
    assert expected in await _mod(slack, text)


async def test_ask_about_an_existing_message(slack: SlackStack) -> None:
    slack.fake.history["C0GENERAL"] = [
        {"type": "message", "user": "U0EVE", "ts": "1764320000.000900", "text": "free nitro here"}
    ]
    answer = await _mod(slack, "ask https://test.slack.com/archives/C0GENERAL/p1764320000000900")
    assert answer.startswith(
        "The frontier model was not asked: escalation to the frontier model is off in the "
        "policy (escalation.enabled).\nThe small model's verdict: *act* · spam"
    )
    [looked] = slack.fake.received("conversations.history")
    assert (looked.args["channel"], looked.args["latest"]) == ("C0GENERAL", "1764320000.000900")


async def test_shadow_mode_and_policy_reload(
    slack: SlackStack, moderation: ModerationService
) -> None:
    assert "Shadow mode *on*" in await _mod(slack, "shadow on")
    assert (await moderation.shadow_state(MOD))["all"] is True
    assert "Shadow mode *off*" in await _mod(slack, "shadow off")
    assert (await moderation.shadow_state(MOD)).get("all") is None
    await _mod(slack, "shadow on <#C0GENERAL|general>")
    assert await moderation.shadow_state(MOD) == {"channel:C0GENERAL": True}
    assert (
        await _mod(slack, "policy reload")
        == f"Policy reloaded: version `{moderation.policy.version}`."
    )


async def test_in_shadow_mode_a_slur_waits_for_a_moderator_who_removes_it(
    slack: SlackStack, moderation: ModerationService
) -> None:
    assert "Shadow mode *on*" in await _mod(slack, "shadow on")
    await slack.say("shut up you f4gg0t", user="U0MALLORY")
    [card] = await slack.fake.wait_for("chat.postMessage")
    assert card.args["channel"] == MODS
    assert "shadow mode" in json.dumps(card.args["blocks"])
    assert _buttons(card.args["blocks"]) == [
        "mt_card_remove",
        "mt_card_dismiss",
        "mt_card_warn",
        "mt_card_timeout",
        "mt_card_ban",
        "mt_summary",
    ]
    assert slack.fake.received("chat.postEphemeral") == []  # shadow mode: nothing enforced
    [case] = await moderation.queue(MOD)

    press = payload(
        "block_actions_card",
        CASE_ID=case.id,
        CARD_TS="1764300000.000001",
        RESPONSE_URL=slack.fake.response_url("card"),
    )
    status, _ = await slack.interaction(press)
    assert status == 200
    [update] = await slack.fake.wait_for("chat.update")
    assert (update.args["channel"], update.args["ts"]) == (MODS, "1764300000.000001")
    assert "*remove* by <@U0MOD>" in json.dumps(update.args["blocks"])
    assert _buttons(update.args["blocks"]) == [
        "mt_card_overturn", "mt_card_timeout", "mt_card_ban", "mt_summary",
    ]  # fmt: skip
    # the decision's actions went through the dispatcher: a notice to the author and, with no
    # admin token, the message flagged and its removal asked of a person; never chat.delete
    [notice] = await slack.fake.wait_for("chat.postEphemeral")
    assert notice.args["user"] == "U0MALLORY"
    assert f"Case {case.id}" in notice.args["text"]
    await slack.fake.wait_for("reactions.add")
    assert slack.fake.received("chat.delete") == []
    decided = await moderation.case(MOD, case.id)
    assert decided.status is CaseStatus.ACTIONED
    assert decided.decided_by == "slack:U0MOD"


async def test_a_reported_message_is_timed_out_with_rule_reason_and_duration(
    slack: SlackStack, moderation: ModerationService
) -> None:
    case_id = await _report(slack, moderation)
    [card] = await slack.fake.wait_for("chat.postMessage")
    assert card.args["channel"] == MODS
    assert "Reported by a member" in json.dumps(card.args["blocks"])
    press = payload(
        "block_actions_card",
        CASE_ID=case_id,
        CARD_TS="1764300000.000001",
        RESPONSE_URL=slack.fake.response_url("card"),
    )
    press["actions"][0]["action_id"] = "mt_card_timeout"
    await slack.interaction(press)
    [opened] = await slack.fake.wait_for("views.open")
    view = _json(opened.args["view"])
    assert view["callback_id"] == "mt_decision"
    assert [b["block_id"] for b in view["blocks"]] == ["category", "reason", "duration"]

    submit = payload(
        "view_submission_decision", METADATA=view["private_metadata"], REASON="threatening a member"
    )
    status, _ = await slack.interaction(submit)
    assert status == 200
    [update] = await slack.fake.wait_for("chat.update")
    assert "*timeout* by <@U0MOD>" in json.dumps(update.args["blocks"])
    [kick] = await slack.fake.wait_for("conversations.kick")
    assert (kick.args["channel"], kick.args["user"]) == ("C0GENERAL", "U0EVE")
    posts = await slack.fake.wait_for("chat.postMessage", 3)
    [dm] = [c for c in posts if c.args["channel"] == "U0EVE"]
    assert "for 1 hour" in dm.args["text"]
    case = await moderation.case(MOD, case_id)
    assert case.category == "harassment"
    assert [a.duration_s for a in case.actions if a.type == "timeout"] == [3600]


async def test_a_member_pressing_a_card_button_is_refused(
    slack: SlackStack, moderation: ModerationService
) -> None:
    case_id = await _report(slack, moderation)
    press = payload(
        "block_actions_card",
        CASE_ID=case_id,
        CARD_TS="1764300000.000001",
        RESPONSE_URL=slack.fake.response_url("card"),
    )
    press["user"]["id"] = "U0ALICE"
    await slack.interaction(press)
    responses = await slack.fake.wait_responses(2)
    # a member learns nothing about the case, not even that it exists
    assert responses[1]["text"] == f"Not done: no case '{case_id}'"
    assert slack.fake.received("chat.update") == []
    assert (await moderation.case(MOD, case_id)).status is CaseStatus.OPEN


async def test_appeal_from_the_notice_reaches_the_moderators_and_can_be_granted(
    slack: SlackStack, moderation: ModerationService
) -> None:
    await slack.say("shut up you f4gg0t", user="U0MALLORY")
    [notice] = await slack.fake.wait_for("chat.postEphemeral")
    blocks = _json(notice.args["blocks"])
    case_ref = next(e["value"] for b in blocks if b["type"] == "actions" for e in b["elements"])
    await slack.fake.wait_for("chat.postMessage", 2)  # removal request and review card

    await slack.interaction(
        payload(
            "block_actions_appeal",
            CASE_REF=case_ref,
            RESPONSE_URL=slack.fake.response_url("appeal"),
        )
    )
    [opened] = await slack.fake.wait_for("views.open")
    view = _json(opened.args["view"])
    assert view["callback_id"] == "mt_appeal_view"
    await slack.interaction(
        payload(
            "view_submission_appeal",
            CASE_REF=view["private_metadata"],
            APPEAL_TEXT="I was quoting the troll to report them",
        )
    )

    # three strike points for hate reach the ladder's first step: a day's timeout
    [kick] = await slack.fake.wait_for("conversations.kick")
    assert kick.args["user"] == "U0MALLORY"
    posts = await slack.fake.wait_for("chat.postMessage", 5)
    appeal_card = next(
        p
        for p in posts
        if p.args["channel"] == MODS and "Appeal on case" in json.dumps(p.args.get("blocks"))
    )
    assert _buttons(appeal_card.args["blocks"]) == [
        "mt_card_overturn",
        "mt_card_uphold",
        "mt_summary",
    ]
    assert any(
        p.args["channel"] == "U0MALLORY" and "was sent to the moderators" in p.args["text"]
        for p in posts
    )

    [case] = await moderation.queue(MOD)
    assert case.status is CaseStatus.APPEALED
    press = payload(
        "block_actions_card",
        CASE_ID=case.id,
        CARD_TS="1764300000.000009",
        RESPONSE_URL=slack.fake.response_url("card"),
    )
    press["actions"][0]["action_id"] = "mt_card_overturn"
    await slack.interaction(press)
    [update] = await slack.fake.wait_for("chat.update")
    assert "*overturned*" in json.dumps(update.args["blocks"])
    assert _buttons(update.args["blocks"]) == []
    # overturning lifts the timeout (invited back) and tells the member
    [invite] = await slack.fake.wait_for("conversations.invite")
    assert (invite.args["channel"], invite.args["users"]) == ("C0GENERAL", "U0MALLORY")
    # one notice per incident (the warning), then the overturn
    notices = await slack.fake.wait_for("chat.postEphemeral", 2)
    assert "was overturned" in notices[-1].args["text"]


async def test_faq_feedback_is_counted_and_the_buttons_replaced(slack: SlackStack) -> None:
    status, _ = await slack.interaction(
        payload("block_actions_faq", RESPONSE_URL=slack.fake.response_url())
    )
    assert status == 200
    [update] = await slack.fake.wait_for("chat.update")
    assert update.args["ts"] == "1764320000.000777"
    assert "you marked this helpful" in json.dumps(update.args["blocks"])
    counts = await slack.redis.hgetall(f"{slack.streams.prefix}:faq:feedback")
    assert counts == {b"reset_password:helpful": b"1"}
