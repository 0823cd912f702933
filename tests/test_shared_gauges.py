"""The gauges the dashboard and the alerts read from what the workers share in Redis: a case
waiting in review and money spent on the frontier model show up on a scrape of the worker."""

from __future__ import annotations

from datetime import timedelta

from prometheus_client import CollectorRegistry, generate_latest

from bot.connection import Redis
from bot.escalation.budget import SpendingBudget
from bot.metrics import Metrics
from bot.pipeline.shared_gauges import SharedGauges
from bot.policy import Policy
from bot.review.decision import Decision
from bot.settings import Settings
from tests.review_harness import moderator
from tests.test_review_cases import INSULT, _review


def _sample(registry: CollectorRegistry, name: str, **labels: str) -> float | None:
    return registry.get_sample_value(name, labels)


async def test_a_queued_case_and_the_spending_appear_on_the_scrape(
    redis: Redis, settings: Settings, default_policy: Policy
) -> None:
    registry = CollectorRegistry()
    metrics = Metrics(registry=registry)
    review = _review(redis, settings, default_policy, metrics)
    await review.chat.say(INSULT, user="bob")
    await review.settle()
    assert len(await review.service.queue(moderator())) == 1
    budget = SpendingBudget(
        redis=redis, streams=review.chat.streams, model="m", daily=5.0, monthly=100.0,
        clock=review.clock,
    )  # fmt: skip
    held = await budget.reserve(0.5)
    await budget.settle(held, 0.125)
    gauges = SharedGauges(
        redis=redis, streams=review.chat.streams, metrics=metrics, budget=budget,
        clock=review.clock,
    )  # fmt: skip

    review.clock.advance(timedelta(minutes=10))
    await gauges.observe()

    tenant = "console:T1"
    assert _sample(registry, "modtriage_review_queue_cases", tenant=tenant) == 1
    assert _sample(registry, "modtriage_review_queue_oldest_seconds", tenant=tenant) == 600
    assert _sample(registry, "modtriage_frontier_spent", period="day") == 0.125
    assert _sample(registry, "modtriage_frontier_spent", period="month") == 0.125
    assert _sample(registry, "modtriage_frontier_budget", period="day") == 5.0
    assert _sample(registry, "modtriage_frontier_budget", period="month") == 100.0
    assert b'modtriage_review_queue_oldest_seconds{tenant="console:T1"} 600.0' in (
        generate_latest(registry)
    )


async def test_an_emptied_queue_reads_zero_not_its_last_age(
    redis: Redis, settings: Settings, default_policy: Policy
) -> None:
    registry = CollectorRegistry()
    metrics = Metrics(registry=registry)
    review = _review(redis, settings, default_policy, metrics)
    await review.chat.say(INSULT, user="bob")
    await review.settle()
    [case] = await review.service.queue(moderator())
    gauges = SharedGauges(
        redis=redis, streams=review.chat.streams, metrics=metrics,
        budget=SpendingBudget(redis=redis, streams=review.chat.streams, model="m",
                              daily=1.0, monthly=2.0),
        clock=review.clock,
    )  # fmt: skip
    review.clock.advance(timedelta(minutes=5))
    await gauges.observe()
    assert _sample(registry, "modtriage_review_queue_oldest_seconds", tenant="console:T1") == 300

    await review.service.claim(moderator(), case.id)
    await review.service.decide(moderator(), case.id, Decision(kind="dismiss"))
    await gauges.observe()

    assert _sample(registry, "modtriage_review_queue_cases", tenant="console:T1") == 0
    assert _sample(registry, "modtriage_review_queue_oldest_seconds", tenant="console:T1") == 0


async def test_the_worker_reports_them_beside_the_stream_lag(
    redis: Redis, settings: Settings, default_policy: Policy
) -> None:
    registry = CollectorRegistry()
    metrics = Metrics(registry=registry)
    review = _review(redis, settings, default_policy, metrics)
    await review.chat.say(INSULT, user="bob")
    await review.settle()
    # a worker that starts now, built as `modtriage worker` builds it, reads them on its own
    # with the stream lag on its first step
    review.chat.use_clock(review.clock)
    await review.chat.worker.step()
    assert _sample(registry, "modtriage_review_queue_cases", tenant="console:T1") == 1
    assert _sample(registry, "modtriage_frontier_budget", period="day") == (
        settings.frontier_daily_budget
    )
