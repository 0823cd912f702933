"""Role exemptions on Slack, as a chat log: Slack sends no roles with a message, so the
adapter looks up the author's user groups (cached) and a policy exempting ``@staff`` leaves a
staff member's message alone while the same words from a member are acted on."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bot.connection import Redis
from bot.metrics import Metrics
from bot.policy import load_policy
from bot.settings import Settings
from bot.streams import read_decision
from bot.verdict import Route
from tests.policy_variants import policy_variant
from tests.slack.conftest import SlackStack, eventually, stack_on
from tests.slack.fake_slack import FakeSlack

pytestmark = [pytest.mark.slack, pytest.mark.toolkit]

SLUR = "shut up you f4gg0t"


@pytest.fixture
async def staff_exempt(
    fake_slack: FakeSlack, redis: Redis, settings: Settings, metrics: Metrics, tmp_path: Path
) -> AsyncIterator[SlackStack]:
    def edit(raw: dict[str, Any]) -> None:
        raw["roles"]["usergroup:staff"] = {"exempt": "all"}

    policy = load_policy(policy_variant(tmp_path / "staff.yaml", edit))
    fake_slack.usergroups.append({"id": "S0STAFF", "handle": "staff", "users": ["U0STAFF"]})
    async with stack_on(
        policy, fake=fake_slack, redis=redis, settings=settings, metrics=metrics
    ) as stack:
        yield stack


async def _route(stack: SlackStack, ts: str) -> Route:
    key = f"slack:T0TEAM:C0GENERAL:{ts}"
    decided = await eventually(lambda: read_decision(stack.redis, stack.streams, key))
    return decided[1].route


async def test_a_staff_members_message_is_exempt_and_a_members_is_not(
    staff_exempt: SlackStack,
) -> None:
    slack = staff_exempt
    await slack.say(SLUR, user="U0STAFF", ts="1764320000.000100")
    await slack.say(SLUR, user="U0MALLORY", ts="1764320001.000100")

    assert await _route(slack, "1764320000.000100") is Route.ALLOW  # @staff: exempt
    assert await _route(slack, "1764320001.000100") is Route.ACT
    notices = await slack.fake.wait_for("chat.postEphemeral")
    assert [n.args["user"] for n in notices] == ["U0MALLORY"]  # nobody told the staff member off
    # one group listing for both messages: the directory's cache, not a lookup per message
    assert len(slack.fake.received("usergroups.list")) == 1
