"""``/mod backtest <version>`` in Slack: a moderator names a policy version reloaded earlier in
the workspace and reads what it would have done to the messages modtriage decided since."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml

from bot.classifiers.rules_only import RulesOnlyClassifier
from bot.connection import Redis
from bot.insights.backtest import Backtest
from bot.policy import Policy, load_policy
from bot.review.service import ModerationService
from bot.settings import Settings
from bot.streams import Streams
from tests.conftest import DEFAULT_POLICY
from tests.slack.conftest import SlackStack
from tests.slack.test_moderators import MOD, _mod

pytestmark = [pytest.mark.slack, pytest.mark.insights]


@pytest.fixture
def moderation(redis: Redis, settings: Settings, default_policy: Policy) -> ModerationService:
    """The real service, able to replay history with the worker's (rules-only) model."""
    return ModerationService(
        redis=redis,
        streams=Streams(namespace=settings.namespace),
        policy=default_policy,
        policy_path=settings.policy,
        backtest=Backtest(settings=settings, classifier=RulesOnlyClassifier()),
    )


@pytest.fixture
def lenient(tmp_path: Path) -> Policy:
    """The default policy without hate's deny terms."""
    raw = yaml.safe_load(DEFAULT_POLICY.read_text())
    raw["name"] = "lenient"
    raw["categories"]["hate"]["deny"] = []
    raw["faq"]["enabled"] = False
    raw["faq"].pop("file", None)
    path = tmp_path / "lenient.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return load_policy(path)


async def test_a_reloaded_version_is_backtested_for_moderators_only(
    slack: SlackStack, moderation: ModerationService, default_policy: Policy, lenient: Policy
) -> None:
    await slack.say("shut up you f4gg0t", user="U0MALLORY", ts="1764320000.000100")
    await slack.say("morning all", user="U0ALICE", ts="1764320000.000200")
    async with asyncio.timeout(10):
        while await slack.redis.xlen(slack.streams.verdicts) < 2:
            await asyncio.sleep(0.02)
    # the lenient version was in force for a while, then the default came back
    now = datetime.now(UTC)
    await moderation.policies.publish(MOD.tenant, lenient, by="slack:U0MOD", at=now)
    await moderation.policies.publish(MOD.tenant, default_policy, by="slack:U0MOD", at=now)

    answer = await _mod(slack, f"backtest {lenient.version} 7")
    assert answer.splitlines() == [
        f"*Backtest of policy {lenient.version} on 2 recorded messages "
        f"(decided under {default_policy.version}): 1 would change route.*",
        "• routes that change: act-&gt;allow 1",
        "• actions: delete 1 → 0, open_case 1 → 0, warn 1 → 0",
        "• cases: 1 opened → 0 would open (-1)",
        "• members crossing a strike step: 3:timeout 1 → 0",
        "• frontier calls: 0, about 0.0000 USD",
    ]

    assert await _mod(slack, "backtest 0123abcd4567") == (
        "no policy version '0123abcd4567' in this workspace"
    )
    assert "backtest takes a policy version" in await _mod(slack, "backtest v1 forever")
    refused = await _mod(slack, f"backtest {lenient.version}", user="U0ALICE")
    assert refused == "slack:U0ALICE may not backtest a policy: moderators only"
