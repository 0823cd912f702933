"""The moderator's toolkit on Slack, read as a chat log: ``/mod warn``, ``/mod timeout`` (a
removal from the channel with a return when due), ``/mod purge`` with the admin token, and a
plain explanation for what Slack does not let an app do. Asserted on what the fake Slack got."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from bot.connection import Redis
from bot.metrics import Metrics
from bot.policy import Policy
from bot.review.actor import Actor
from bot.review.service import ModerationService
from bot.settings import Settings
from tests.slack.conftest import SlackStack, payload
from tests.slack.fake_slack import FakeSlack

pytestmark = [pytest.mark.slack, pytest.mark.toolkit]

MOD = Actor(platform="slack", workspace="T0TEAM", user_id="U0MOD", roles=("usergroup:moderator",))


async def _mod(
    slack: SlackStack,
    text: str,
    *,
    user: str = "U0MOD",
    team: str = "T0TEAM",
    channel: str = "C0GENERAL",
    trigger: str | None = None,
) -> str:
    """``/mod <text>`` typed in ``channel``; what modtriage answered (ephemeral)."""
    fields = payload("slash_mod", RESPONSE_URL=slack.fake.response_url("t"))
    fields.update(text=text, user_id=user, team_id=team, channel_id=channel)
    fields["trigger_id"] = trigger or f"{len(slack.fake.calls)}.{text}"
    before = len(slack.fake.responses)
    status, _ = await slack.command(fields)
    assert status == 200
    answer = (await slack.fake.wait_responses(before + 1))[before]
    assert answer["response_type"] == "ephemeral"
    return str(answer["text"])


@pytest.fixture
async def with_admin(
    fake_slack: FakeSlack,
    redis: Redis,
    settings: Settings,
    default_policy: Policy,
    metrics: Metrics,
    moderation: ModerationService,
) -> AsyncIterator[SlackStack]:
    """A workspace where modtriage also holds an admin's user token."""
    stack = SlackStack(
        fake=fake_slack, redis=redis, settings=settings, policy=default_policy,
        metrics=metrics, moderation=moderation, admin_token="xoxp-admin",
    )  # fmt: skip
    await stack.start()
    yield stack
    await stack.stop()


async def test_warn_is_a_dm_and_a_case_in_the_members_history(
    slack: SlackStack, moderation: ModerationService
) -> None:
    answer = await _mod(slack, "warn <@U0MALLORY|mallory> no scams here")
    assert answer.startswith("Case `")
    [dm] = await slack.fake.wait_for("chat.postMessage")
    assert dm.args["channel"] == "U0MALLORY"
    assert "a moderator warned you. Reason: no scams here" in dm.args["text"]
    assert slack.fake.received("chat.postEphemeral") == []
    [case] = await moderation.history(MOD, "U0MALLORY")
    assert (case.source, case.decision, case.decided_by) == ("direct", "warn", "slack:U0MOD")
    assert f"`{case.id}`" in await _mod(slack, "history <@U0MALLORY>")
    assert f"case `{case.id}` · warn · actioned" in await _mod(slack, "modlogs <@U0MALLORY>")


async def test_a_timeout_removes_from_the_channel_and_returns_when_due(
    slack: SlackStack, moderation: ModerationService
) -> None:
    answer = await _mod(slack, "timeout <@U0MALLORY> 2s flooding")
    assert "removed from <#C0GENERAL> for 2 seconds, invited back when it ends" in answer
    [kick] = await slack.fake.wait_for("conversations.kick")
    assert (kick.args["channel"], kick.args["user"]) == ("C0GENERAL", "U0MALLORY")
    # held in Redis, released by the dispatcher when due: the member is invited back
    [invite] = await slack.fake.wait_for("conversations.invite", within_s=15)
    assert (invite.args["channel"], invite.args["users"]) == ("C0GENERAL", "U0MALLORY")
    # the notice, the removal's DM, then the return's
    texts = [c.args["text"] for c in await slack.fake.wait_for("chat.postMessage", count=3)]
    assert any("removed from <#C0GENERAL> for 2 seconds" in t for t in texts)
    assert any("timeout was lifted" in t for t in texts)
    [case] = await moderation.history(MOD, "U0MALLORY")
    assert case.decision == "timeout"


async def test_untimeout_invites_back_to_the_channel_of_the_timeout(slack: SlackStack) -> None:
    await _mod(slack, "timeout <@U0MALLORY> 1h")
    await slack.fake.wait_for("conversations.kick")
    assert "<@U0MALLORY> invited back" in await _mod(
        slack, "untimeout <@U0MALLORY>", channel="C0MODS"
    )
    [invite] = await slack.fake.wait_for("conversations.invite")
    assert invite.args["channel"] == "C0GENERAL"


async def test_purge_deletes_one_members_last_messages_with_the_admin_token(
    with_admin: SlackStack,
) -> None:
    fake = with_admin.fake
    fake.history["C0GENERAL"] = [
        {"type": "message", "user": "U0MALLORY", "ts": f"1764320000.00010{i}", "text": f"spam {i}"}
        for i in range(3)
    ] + [{"type": "message", "user": "U0ALICE", "ts": "1764320000.000200", "text": "hi"}]
    assert "the last 2 message(s) go" in await _mod(with_admin, "purge 2 <@U0MALLORY>")
    deleted = await fake.wait_for("chat.delete", count=2)
    assert [(c.args["ts"], c.token) for c in deleted] == [
        ("1764320000.000102", "xoxp-admin"),
        ("1764320000.000101", "xoxp-admin"),
    ]
    await _mod(with_admin, "purge 5 hi")
    third = await fake.wait_for("chat.delete", count=3)
    assert third[2].args["ts"] == "1764320000.000200"


async def test_purge_without_the_admin_token_is_refused_up_front(slack: SlackStack) -> None:
    answer = await _mod(slack, "purge 5")
    assert "needs a workspace admin's user token" in answer
    assert slack.fake.received("conversations.history") == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("kick <@U0MALLORY>", "Slack does not let an app remove a member from the workspace"),
        ("ban <@U0MALLORY>", "Slack has no ban for apps"),
        ("unban <@U0MALLORY>", "Slack has no ban for apps, so there is nothing to lift"),
        ("slowmode 30", "Slack has no slowmode"),
        ("lock", "Slack does not let an app lock a channel"),
        ("unlock", "Slack does not let an app lock or unlock a channel"),
    ],
)
async def test_what_slack_cannot_do_is_explained(
    slack: SlackStack, text: str, expected: str
) -> None:
    assert expected in await _mod(slack, text)
    await asyncio.sleep(0.2)
    assert slack.fake.methods == []


async def test_members_are_refused_and_other_workspaces_act_only_on_their_own(
    slack: SlackStack, moderation: ModerationService
) -> None:
    answer = await _mod(slack, "timeout <@U0MALLORY> 1h", user="U0ALICE")
    assert answer == "slack:U0ALICE may not time members out: moderators only"
    assert await _mod(slack, "ban <@U0MALLORY>", user="U0ALICE") == (
        "slack:U0ALICE may not ban members: moderators only"
    )
    assert "may not see a member's mod log" in await _mod(
        slack, "modlogs <@U0MALLORY>", user="U0ALICE"
    )
    # an administrator of another workspace: their note is theirs, never in our mod log
    slack.fake.users["U9BOSS"] = {"id": "U9BOSS", "name": "boss", "is_admin": True}
    await _mod(slack, "note <@U0MALLORY> from elsewhere", user="U9BOSS", team="T9OTHER")
    assert "0 case(s), 0 note(s)" in await _mod(slack, "modlogs <@U0MALLORY>")
    assert slack.fake.received("conversations.kick") == []


async def test_a_command_delivered_twice_acts_once(
    slack: SlackStack, moderation: ModerationService
) -> None:
    first = await _mod(slack, "timeout <@U0MALLORY> 1h", trigger="1764320600.9.same")
    again = await _mod(slack, "timeout <@U0MALLORY> 1h", trigger="1764320600.9.same")
    assert again.startswith("Already done: case")
    assert first.split("`")[1] in again
    await slack.fake.wait_for("conversations.kick")
    await asyncio.sleep(0.3)
    assert len(slack.fake.received("conversations.kick")) == 1
    assert len(await moderation.history(MOD, "U0MALLORY")) == 1
