"""Alerts that always reach someone, and configuring from chat, on Slack, read as a chat
log: a moderator types ``/mod setup``, ``/mod channel``, ``/mod policy show``; a member posts;
we assert what the fake Slack received and what Redis holds."""

from __future__ import annotations

import json
from typing import Any

import pytest
from structlog.testing import capture_logs

from bot.policy import Policy
from bot.review.service import ModerationService
from bot.tenant import Tenant
from tests.slack.conftest import MODS, SlackStack, eventually, payload

pytestmark = [pytest.mark.slack, pytest.mark.toolkit]

CRY = "I can't go on, I'm going to kill myself tonight"
TEAM = Tenant(platform="slack", workspace="T0TEAM")


@pytest.fixture
def default_policy(default_policy: Policy) -> Policy:
    """No moderators' channel in the policy, and a self-harm phrase the rules-only
    classifier knows (no model runs in these tests)."""
    self_harm = default_policy.categories["self_harm"].model_copy(update={"deny": ("kill myself",)})
    mods = default_policy.moderators.model_copy(update={"channel": None})
    categories = {**default_policy.categories, "self_harm": self_harm}
    return default_policy.model_copy(update={"categories": categories, "moderators": mods})


async def _mod(slack: SlackStack, text: str, *, user: str = "U0MOD") -> str:
    fields = payload("slash_mod", RESPONSE_URL=slack.fake.response_url("h"))
    fields.update(text=text, user_id=user)
    before = len(slack.fake.responses)
    status, _ = await slack.command(fields)
    assert status == 200
    answer = (await slack.fake.wait_responses(before + 1))[before]
    assert answer["response_type"] == "ephemeral"
    return str(answer["text"])


def _blocks(call: Any) -> list[Any]:
    blocks = call.args.get("blocks") or []
    return json.loads(blocks) if isinstance(blocks, str) else list(blocks)


@pytest.mark.parametrize(
    ("typed", "said"),
    [
        ("<#C0ALERTS|alerts> <!subteam^S0MODS|@moderator>", "mentions"),
        ("#alerts @moderator", "names"),
    ],
)
async def test_setup_sends_alerts_to_the_channel_mentioning_the_group(
    slack: SlackStack, typed: str, said: str
) -> None:
    answer = await _mod(slack, f"setup {typed}")
    assert answer == "Alerts now go to <#C0ALERTS>, mentioning <!subteam^S0MODS>."
    stored = await slack.redis.hgetall(slack.streams.tenant(TEAM).alerts)
    assert stored[b"channel"] == b"C0ALERTS"
    assert stored[b"role"] == b"S0MODS"
    assert stored[b"by"] == b"slack:U0MOD"

    await slack.say("shut up you f4gg0t")
    posts = await slack.fake.wait_for("chat.postMessage")
    [card] = [p for p in posts if p.args["channel"] == "C0ALERTS"]
    assert card.args["text"].startswith("<!subteam^S0MODS> ")
    assert _blocks(card)[0]["text"]["text"] == "<!subteam^S0MODS>"
    assert [p for p in posts if p.args["channel"] == MODS] == []


async def test_a_member_cannot_run_setup_or_switch_channels(slack: SlackStack) -> None:
    assert "moderators only" in await _mod(slack, "setup #alerts @moderator", user="U0ALICE")
    assert "moderators only" in await _mod(slack, "channel #general shadow on", user="U0ALICE")
    assert "moderators only" in await _mod(slack, "policy show", user="U0ALICE")
    assert await slack.redis.hgetall(slack.streams.tenant(TEAM).alerts) == {}
    assert await slack.redis.hgetall(slack.streams.tenant(TEAM).shadow) == {}
    assert "conversations.list" not in [c.method for c in slack.fake.calls]


async def test_another_workspaces_setting_does_not_leak(slack: SlackStack) -> None:
    await _mod(slack, "setup #alerts @moderator")
    body = payload("event_message")
    body["team_id"] = body["event"]["team"] = "T0OTHER"
    body["event"].update(text=CRY)
    status, _ = await slack.event(body)
    assert status == 200
    posts = await slack.fake.wait_for("chat.postMessage", count=2)  # the reply, the card
    cards = [p for p in posts if p.args["channel"] != "C0GENERAL"]
    assert [c.args["channel"] for c in cards] == [MODS]  # the setting, not T0TEAM's choice
    assert "subteam" not in cards[0].args["text"]
    other = Tenant(platform="slack", workspace="T0OTHER")
    assert await slack.redis.hgetall(slack.streams.tenant(other).alerts) == {}


async def test_without_any_channel_self_harm_reaches_the_owners_by_dm(slack: SlackStack) -> None:
    slack.adapter.alerts.moderators_channel = None  # no setting either: nowhere at all
    slack.fake.users["U0OWNER"] = {"id": "U0OWNER", "name": "olga", "is_owner": True}
    with capture_logs() as logs:
        await slack.adapter.alerts.warn_unrouted([TEAM])
    assert [(line["log_level"], line["workspace"]) for line in logs] == [("warning", "T0TEAM")]

    await slack.say(CRY)
    posts = await slack.fake.wait_for("chat.postMessage", count=3)
    dms = sorted(p.args["channel"] for p in posts if p.args["channel"].startswith("U"))
    assert dms == ["U0ADMIN", "U0OWNER"]
    card = next(p for p in posts if p.args["channel"] == "U0OWNER")
    assert "self_harm" in card.args["text"]
    assert "/mod setup #channel @group" in card.args["text"]
    thread = [p for p in posts if p.args["channel"] == "C0GENERAL"]
    assert len(thread) == 1  # the support reply to the member, as always


async def test_without_any_channel_a_slur_is_not_sent_to_the_owners(slack: SlackStack) -> None:
    slack.adapter.alerts.moderators_channel = None
    await slack.say("shut up you f4gg0t")
    await slack.fake.wait_for("reactions.add")
    await slack.fake.wait_for("chat.postEphemeral")
    assert [p.args["channel"] for p in slack.fake.received("chat.postMessage")] == []


@pytest.mark.parametrize("typed", ["#general", "<#C0GENERAL|general>", "general"])
async def test_channel_switches_by_name_or_mention(slack: SlackStack, typed: str) -> None:
    keys = slack.streams.tenant(TEAM)
    assert await _mod(slack, f"channel {typed} shadow on") == "shadow is now on in <#C0GENERAL>."
    assert await slack.redis.hgetall(keys.shadow) == {b"channel:C0GENERAL": b"1"}
    assert await _mod(slack, f"channel {typed} faq off") == "faq is now off in <#C0GENERAL>."
    assert await slack.redis.hgetall(keys.faq_channels) == {b"C0GENERAL": b"0"}
    assert "use `/mod channel" in await _mod(slack, f"channel {typed} loud on")
    assert "no channel '#nowhere'" in await _mod(slack, "channel #nowhere faq on")


async def test_policy_show(slack: SlackStack, moderation: ModerationService) -> None:
    summary = await _mod(slack, "policy show")
    assert summary.startswith(f"*policy default · version {moderation.policy.version}")
    assert "• self_harm (critical): review 0.3 / escalate 0.45 / act 0.6; on act reply" in summary
    detail = await _mod(slack, "policy show self_harm")
    assert detail.splitlines()[0] == "*self_harm (critical, support case)*"
    assert "unknown category 'nope'" in await _mod(slack, "policy show nope")


async def test_an_exempt_channel_is_left_alone_until_switched_back(slack: SlackStack) -> None:
    assert await _mod(slack, "channel #general exempt on") == "exempt is now on in <#C0GENERAL>."
    await slack.say("shut up you f4gg0t", ts="1764320000.000100")
    key = slack.streams.verdict_key("slack:T0TEAM:C0GENERAL:1764320000.000100")
    assert await eventually(lambda: slack.redis.hexists(key, "verdict"))  # decided, recorded
    assert await slack.redis.xlen(slack.streams.actions("slack")) == 0  # and nothing to do
    assert await _mod(slack, "channel <#C0GENERAL|general> exempt off") == (
        "exempt is now off in <#C0GENERAL>."
    )
    await slack.say("shut up you f4gg0t", ts="1764320000.000200")
    [flagged] = await slack.fake.wait_for("reactions.add")
    assert flagged.args["timestamp"] == "1764320000.000200"
