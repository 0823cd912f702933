"""The drift alarm, read in Slack: a week of messages through the real worker with a small
model whose scores each message states, then a day whose scores move upwards (or do not);
the moderator types ``/mod stats``."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

from bot.connection import Redis
from bot.message import Author, Message
from bot.metrics import Metrics
from bot.pipeline.ingest import Ingest
from bot.policy import Policy
from bot.review.service import ModerationService
from bot.runtime import build_worker
from bot.settings import Settings
from bot.streams import Streams
from tests.review_harness import Clock
from tests.slack.conftest import MODS, SlackStack, eventually
from tests.slack.fake_slack import FakeSlack
from tests.slack.test_moderators import _mod
from tests.small_model import ScoresByPhrase

pytestmark = [pytest.mark.slack, pytest.mark.insights]

START = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
CALM = [0.02, 0.04, 0.06, 0.08, 0.12, 0.14, 0.16, 0.18, 0.03, 0.13]


@pytest.fixture
def clock() -> Clock:
    return Clock(START)


@pytest.fixture
def moderation(
    redis: Redis, settings: Settings, default_policy: Policy, clock: Clock
) -> ModerationService:
    """The service on the test's clock, comparing categories from 10 scores a side."""
    return ModerationService(
        redis=redis,
        streams=Streams(namespace=settings.namespace),
        policy=default_policy,
        clock=clock,
        drift_min_messages=10,
    )


@pytest.fixture
async def scored(
    fake_slack: FakeSlack,
    redis: Redis,
    settings: Settings,
    default_policy: Policy,
    metrics: Metrics,
    moderation: ModerationService,
    clock: Clock,
) -> AsyncIterator[SlackStack]:
    """The Slack stack with a small model whose scores each message states ('<t0.12>'), its
    worker dated by the test's clock."""
    stack = SlackStack(
        fake=fake_slack, redis=redis, settings=settings, policy=default_policy,
        metrics=metrics, moderation=moderation,
    )  # fmt: skip
    scores = {f"<t{s:.2f}>": {"toxicity": s} for s in CALM + [s + 0.2 for s in CALM]}
    stack.worker = build_worker(
        redis=redis, settings=settings.model_copy(update={"drift_min_messages": 10}),
        policy=default_policy, classifier=ScoresByPhrase(scores), metrics=metrics,
        consumer="slack-scored-worker", clock=clock,
    )  # fmt: skip
    await stack.start()
    yield stack
    await stack.stop()


async def _day(stack: SlackStack, clock: Clock, scores: list[float], first: int) -> None:
    """Members of T0TEAM say one message per score on the clock's day; returns once the
    worker decided them all."""
    ingest = Ingest(redis=stack.redis, streams=stack.streams)
    for n, score in enumerate(scores, start=first):
        await ingest.publish(
            Message(
                platform="slack",
                workspace="T0TEAM",
                channel="C0GENERAL",
                id=f"{1764320000 + n}.000100",
                author=Author(id=f"U0M{n}"),
                text=f"message {n} <t{score:.2f}>",
                ts=clock.now + timedelta(seconds=n),
            )
        )
    total = first + len(scores) - 1

    async def decided() -> bool:
        return int(await stack.redis.xlen(stack.streams.verdicts)) >= total

    await eventually(decided)


@pytest.mark.parametrize(("shift", "drifted"), [(0.2, True), (0.0, False)])
async def test_stats_warn_when_todays_scores_drift_from_the_week_before(
    scored: SlackStack, clock: Clock, metrics: Metrics, shift: float, drifted: bool
) -> None:
    for day in range(7):
        await _day(scored, clock, CALM, first=1 + 10 * day)
        clock.advance(timedelta(days=1))
    await _day(scored, clock, [s + shift for s in CALM], first=71)

    await scored.worker.observe_drift()
    gauge = metrics.registry.get_sample_value("modtriage_score_drift_psi", {"category": "toxicity"})
    assert gauge is not None
    assert (gauge >= 0.25) is drifted
    assert (gauge < 0.1) is not drifted
    answer = await _mod(scored, "stats 1")
    warnings = [line for line in answer.splitlines() if line.startswith(":warning:")]
    if drifted:
        assert warnings == [
            f":warning: toxicity scores drifted (PSI {gauge:.2f}): mean score 0.10 → 0.30; "
            "review 0.0% → 50.0%, today against 2026-11-20 to 2026-11-26 (UTC)"
        ]
        assert scored.fake.received("chat.postMessage")[0].args["channel"] == MODS
    else:
        assert warnings == []
