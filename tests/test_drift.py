"""The drift alarm: a week of messages through the real worker, then a day whose model scores
move upwards. The worker's commit records each day's scores; the gauge and the service read
them back from Redis."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.connection import Redis
from bot.insights.drift import psi
from bot.metrics import Metrics
from bot.policy import Policy
from bot.review.service import ModerationService
from bot.settings import Settings
from bot.stats import day_of
from bot.tenant import Tenant
from tests.harness import ChatHarness
from tests.review_harness import Clock, moderator
from tests.small_model import ScoresByPhrase

pytestmark = pytest.mark.insights

START = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
PER_DAY = 20
#: a week's toxicity scores, spread over the two lowest bins
CALM = [0.02, 0.04, 0.06, 0.08, 0.12, 0.14, 0.16, 0.18, 0.03, 0.13] * 2
#: the same number of messages, each scored 0.2 higher (half of them reach review at 0.3)
HOTTER = [score + 0.2 for score in CALM]


def _model() -> ScoresByPhrase:
    """Each message says its own toxicity score: '<t0.12>'."""
    scores = sorted(set(CALM + HOTTER))
    return ScoresByPhrase({f"<t{s:.2f}>": {"toxicity": s} for s in scores})


class Week:
    """A community on the default policy, its worker dated by a clock the test moves."""

    def __init__(self, redis: Redis, settings: Settings, policy: Policy, metrics: Metrics) -> None:
        self.clock = Clock(START)
        self.metrics = metrics
        self.chat = ChatHarness(
            redis=redis,
            settings=settings.model_copy(update={"drift_min_messages": PER_DAY}),
            policy=policy,
            classifier=_model(),
            metrics=metrics,
        )
        self.chat.use_clock(self.clock)
        self.service = ModerationService(
            redis=redis, streams=self.chat.streams, policy=policy, clock=self.clock,
            drift_min_messages=PER_DAY,
        )  # fmt: skip
        self._n = 0

    async def day(self, scores: list[float]) -> None:
        """Members say one message per score today, each decided by the worker."""
        for score in scores:
            self._n += 1
            await self.chat.say(f"message {self._n} <t{score:.2f}>", user=f"member{self._n}")

    def gauge(self, category: str) -> float | None:
        return self.metrics.registry.get_sample_value(
            "modtriage_score_drift_psi", {"category": category}
        )


@pytest.fixture
async def week(redis: Redis, settings: Settings, default_policy: Policy, metrics: Metrics) -> Week:
    community = Week(redis, settings, default_policy, metrics)
    for _ in range(7):
        await community.day(CALM)
        community.clock.advance(timedelta(days=1))
    return community


@pytest.mark.parametrize(
    ("actual", "expected", "value"),
    [
        ([10, 30, 60], [10, 30, 60], 0.0),
        ([20, 60, 120], [10, 30, 60], 0.0),  # shares, not counts
        ([50, 50], [90, 10], 0.4 * 0.5878 + 0.4 * 1.6094),  # (a-e)·ln(a/e) summed
    ],
)
def test_population_stability_index(actual: list[int], expected: list[int], value: float) -> None:
    assert psi(actual, expected) == pytest.approx(value, abs=1e-3)


async def test_scores_moved_upwards_raise_the_gauge_and_the_stats_line(week: Week) -> None:
    await week.day(HOTTER)

    worst = await week.chat.worker.observe_drift()
    assert worst["toxicity"] >= 0.25
    assert week.gauge("toxicity") == worst["toxicity"]
    report = await week.service.score_drift(moderator())
    [toxicity] = report.categories
    assert (toxicity.state, toxicity.today, toxicity.reference) == ("drifted", 20, 140)
    assert toxicity.routes_today["review"] == 0.5  # 0.32 .. 0.38 reach the review band
    assert toxicity.routes_reference["review"] == 0.0
    [line] = report.lines()
    assert line.startswith("toxicity scores drifted (PSI ")
    assert "mean score 0.10 → 0.30; review 0.0% → 50.0%" in line
    assert line.endswith("today against 2026-11-20 to 2026-11-26 (UTC)")


async def test_an_unchanged_distribution_raises_nothing(week: Week) -> None:
    await week.day(CALM)

    assert await week.chat.worker.observe_drift() == {"toxicity": 0.0}
    assert week.gauge("toxicity") == 0.0
    report = await week.service.score_drift(moderator())
    assert [c.state for c in report.categories] == ["steady"]
    assert report.lines() == []


async def test_too_few_scores_today_compare_nothing(week: Week) -> None:
    await week.day(HOTTER[: PER_DAY - 1])

    assert await week.chat.worker.observe_drift() == {}
    assert week.gauge("toxicity") is None  # unknown, not zero
    [toxicity] = (await week.service.score_drift(moderator())).categories
    assert (toxicity.state, toxicity.psi, toxicity.today) == ("too_few", None, 19)


async def test_a_redelivered_message_counts_once(
    redis: Redis, settings: Settings, default_policy: Policy, metrics: Metrics
) -> None:
    chat = ChatHarness(
        redis=redis, settings=settings, policy=default_policy, classifier=_model(),
        metrics=metrics,
    )  # fmt: skip
    clock = Clock(START)
    chat.use_clock(clock)
    message = chat.message("same message <t0.12>")
    for _ in range(2):  # the adapter published it twice
        await chat.ingest.publish(message)
    await chat.worker.ensure_group()
    while await chat.worker.step():
        pass
    key = chat.streams.tenant(Tenant.of(message)).scores(day_of(START))
    assert await redis.hgetall(key) == {
        b"messages": b"1",
        b"route:none:allow": b"1",
        b"toxicity:1": b"1",
    }
