"""Actions out: each action as Slack received it, refusals, and rate limits that lose nothing."""

from __future__ import annotations

import json
from typing import Any

import pytest

from bot.action import (
    ACTION_ADAPTER,
    Action,
    BanUser,
    KickUser,
    LiftSanction,
    Reply,
    TimeoutUser,
    WarnUser,
)
from bot.errors import ActionError
from tests.slack.conftest import MODS, SlackStack, eventually

pytestmark = pytest.mark.slack

COMMON: dict[str, Any] = {
    "platform": "slack",
    "workspace": "T0TEAM",
    "channel": "C0GENERAL",
    "message_id": "1764320000.000100",
    "user_id": "U0MALLORY",
    "message_key": "slack:T0TEAM:C0GENERAL:1764320000.000100",
    "reason": "spam: link:invite",
}


def _warn(aid: str = "a-warn") -> WarnUser:
    return WarnUser(
        id=aid,
        text="Your message was flagged under the rule 'spam'.",
        quote="join discord.gg/x",
        **COMMON,
    )


async def _emit(slack: SlackStack, *actions: Action) -> None:
    """Put actions on the Slack actions stream, as the worker or the service does."""
    for action in actions:
        await slack.redis.xadd(
            slack.streams.actions("slack"), {"action": ACTION_ADAPTER.dump_json(action)}
        )


async def test_a_warning_to_someone_who_left_the_channel_goes_by_dm(slack: SlackStack) -> None:
    slack.fake.refuse("chat.postEphemeral", "user_not_in_channel")
    await slack.adapter.perform(_warn())
    [dm] = slack.fake.received("chat.postMessage")
    assert dm.args["channel"] == "U0MALLORY"
    assert "join discord.gg/x" in json.dumps(dm.args["blocks"])


async def test_rate_limits_are_waited_out_by_the_sdk(slack: SlackStack) -> None:
    slack.fake.rate_limit("chat.postEphemeral", times=2)
    await slack.adapter.perform(_warn())
    assert len(slack.fake.received("chat.postEphemeral")) == 3


async def test_a_long_rate_limit_defers_the_action_and_never_loses_it(slack: SlackStack) -> None:
    # more 429s than the SDK retries (2): the dispatcher gets retry_after and tries again
    slack.fake.rate_limit("chat.postEphemeral", times=4)
    await _emit(slack, _warn("a-429"))
    calls = await slack.fake.wait_for("chat.postEphemeral", count=5)
    assert len(calls) == 5
    await eventually(lambda: slack.redis.exists(slack.streams.done("a-429")))
    assert await slack.redis.xlen(slack.streams.dead) == 0


async def test_a_refusal_is_an_action_error_and_dead_lettered(slack: SlackStack) -> None:
    slack.fake.refuse("conversations.kick", "restricted_action")
    kick = KickUser(id="a-kick", **COMMON)
    with pytest.raises(ActionError) as caught:
        await slack.adapter.perform(kick)
    assert (caught.value.reason, caught.value.retry_after) == ("restricted_action", None)

    slack.fake.refuse("conversations.kick", "restricted_action")
    await _emit(slack, kick.model_copy(update={"id": "a-kick-2"}))
    [(_, fields)] = await eventually(lambda: slack.redis.xrange(slack.streams.dead))
    assert b"restricted_action" in fields[b"reason"]


@pytest.mark.parametrize(
    ("action", "calls"),
    [
        (KickUser(id="k", **COMMON), ["conversations.kick"]),
        (TimeoutUser(id="t", duration_s=600, **COMMON), ["conversations.kick", "chat.postMessage"]),
        (BanUser(id="b", **COMMON), ["conversations.kick", "chat.postMessage"]),
        (
            LiftSanction(id="l", sanction="ban", **COMMON),
            ["conversations.invite", "chat.postMessage"],
        ),
    ],
    ids=["kick", "timeout", "ban", "lift"],
)
async def test_sanctions_map_to_what_slack_allows(
    slack: SlackStack, action: Action, calls: list[str]
) -> None:
    await slack.adapter.perform(action)
    assert slack.fake.methods == calls
    if isinstance(action, TimeoutUser):
        [dm] = slack.fake.received("chat.postMessage")
        assert dm.args["channel"] == "U0MALLORY"
        assert "for 10 minutes" in dm.args["text"]
    if isinstance(action, BanUser):
        [note] = slack.fake.received("chat.postMessage")
        assert note.args["channel"] == MODS
        assert "must deactivate" in note.args["text"]


async def test_kicking_someone_already_gone_counts_as_done(slack: SlackStack) -> None:
    slack.fake.refuse("conversations.kick", "not_in_channel")
    await slack.adapter.perform(KickUser(id="k", **COMMON))
    assert slack.fake.methods == ["conversations.kick"]


async def test_an_faq_answer_is_a_thread_reply_with_feedback_buttons(slack: SlackStack) -> None:
    reply = Reply(
        id="r",
        text="Reset it under Settings > Security.",
        thread="1764320000.000100",
        feedback_buttons=True,
        faq_id="reset_password",
        **COMMON,
    )
    await slack.adapter.perform(reply)
    [post] = slack.fake.received("chat.postMessage")
    assert (post.args["channel"], post.args["thread_ts"]) == ("C0GENERAL", "1764320000.000100")
    blocks = (
        json.loads(post.args["blocks"])
        if isinstance(post.args["blocks"], str)
        else post.args["blocks"]
    )
    buttons = [
        (e["action_id"], e["value"])
        for b in blocks
        if b["type"] == "actions"
        for e in b["elements"]
    ]
    assert buttons == [("mt_faq_helpful", "reset_password"), ("mt_faq_unhelpful", "reset_password")]
