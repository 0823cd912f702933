"""New members' links and mentions held on Slack, as a chat log: a member joins the workspace
(Slack's ``team_join``), posts a link within their first hours and it goes to the moderators'
review queue; the same link from a member of long standing, and a newcomer's plain hello, pass."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bot.connection import Redis
from bot.metrics import Metrics
from bot.pipeline.raid_hold import NEWCOMER_RULE
from bot.policy import load_policy
from bot.settings import Settings
from bot.streams import read_decision
from bot.verdict import Route
from tests.policy_variants import policy_variant
from tests.slack.conftest import SlackStack, eventually, payload, stack_on
from tests.slack.fake_slack import FakeSlack

pytestmark = [pytest.mark.slack, pytest.mark.toolkit]

LINK = "anyone tried this? https://deals.example.com/shoes"


@pytest.fixture
async def holding(
    fake_slack: FakeSlack, redis: Redis, settings: Settings, metrics: Metrics, tmp_path: Path
) -> AsyncIterator[SlackStack]:
    def edit(raw: dict[str, Any]) -> None:
        raw["raid"] = {"newcomer_hours": 24}

    policy = load_policy(policy_variant(tmp_path / "newcomers.yaml", edit))
    async with stack_on(
        policy, fake=fake_slack, redis=redis, settings=settings, metrics=metrics
    ) as stack:
        yield stack


async def _joins(slack: SlackStack, user: str, at: int = 1764319000) -> None:
    """``user`` joins the workspace at ``at`` (default: a quarter of an hour before the
    messages below)."""
    body = payload("event_message")
    body["event"] = {"type": "team_join", "user": {"id": user, "name": "newbie", "is_bot": False}}
    body["event_time"] = at
    status, _ = await slack.event(body)
    assert status == 200


async def _decided(slack: SlackStack, ts: str) -> tuple[Route, list[str]]:
    key = f"slack:T0TEAM:C0GENERAL:{ts}"
    _, verdict = await eventually(lambda: read_decision(slack.redis, slack.streams, key))
    return verdict.route, [e.rule for e in verdict.evidence]


async def test_a_newcomers_link_waits_for_a_moderator(holding: SlackStack) -> None:
    slack = holding
    await _joins(slack, "U0NEWBIE")
    await slack.say("hello everyone!", user="U0NEWBIE", ts="1764320000.000100")
    await slack.say(LINK, user="U0NEWBIE", ts="1764320001.000100")
    await slack.say(LINK, user="U0ALICE", ts="1764320002.000100")

    assert (await _decided(slack, "1764320000.000100"))[0] is Route.ALLOW  # no link: fine
    route, rules = await _decided(slack, "1764320001.000100")
    assert route is Route.REVIEW
    assert NEWCOMER_RULE in rules
    assert (await _decided(slack, "1764320002.000100"))[0] is Route.ALLOW  # not new here
    [card] = await slack.fake.wait_for("chat.postMessage")  # the moderators see it
    assert "U0NEWBIE" in str(card.args)


async def test_after_the_first_hours_a_members_links_pass(holding: SlackStack) -> None:
    slack = holding
    await _joins(slack, "U0NEWBIE", at=1764320001 - 25 * 3600)  # 25 hours before: not new
    await slack.say(LINK, user="U0NEWBIE", ts="1764320001.000100")
    assert (await _decided(slack, "1764320001.000100"))[0] is Route.ALLOW
