"""An appeal is judged again by the same engine under the tenant's current policy, so the
moderators reading it know first whether the bot would still act."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from bot.connection import Redis
from bot.metrics import Metrics
from bot.policy import Policy, load_policy
from bot.settings import Settings
from bot.tenant import Tenant
from tests.conftest import DEFAULT_POLICY
from tests.review_harness import ReviewHarness, member
from tests.test_review_cases import _review

pytestmark = [pytest.mark.review, pytest.mark.insights]


@pytest.fixture
def review(
    redis: Redis, settings: Settings, default_policy: Policy, metrics: Metrics
) -> ReviewHarness:
    return _review(redis, settings, default_policy, metrics)


async def test_an_appeal_is_judged_again_under_the_current_policy(
    review: ReviewHarness, tmp_path: Path
) -> None:
    """The community dropped a word from its deny list since: the moderators reading the
    appeal learn first that the bot would now allow the message."""
    service = review.service
    await review.chat.say("shut up you f4gg0t", user="carol")  # deny-listed when it was said
    await review.settle()
    raw = yaml.safe_load(DEFAULT_POLICY.read_text())
    for category in raw["categories"].values():
        category["deny"] = []
    raw["faq"]["enabled"] = False
    raw["faq"].pop("file", None)
    relaxed = tmp_path / "relaxed.yaml"
    relaxed.write_text(yaml.safe_dump(raw, sort_keys=False))
    now_in_force = load_policy(relaxed)
    tenant = Tenant(platform="console", workspace="T1")
    await service.policies.publish(tenant, now_in_force, by="mod-ana", at=review.clock())

    case = await service.appeal(member("carol"), "1", "it's a vegetable")
    await review.settle()
    notice = next(a for a in review.platform.performed if a.type == "notify")
    assert notice.model_dump()["text"].startswith(
        f"Judged again under policy {now_in_force.version}: it would now be ALLOWED"
    )
    assert [e.kind for e in case.events][-2:] == ["appealed", "rejudged"]
