"""Streams stay near their cap, and nothing a reader has not finished is trimmed away: with the
workers or an adapter down, messages and actions wait in their streams. Real Redis; what the
far side received is what counts (stored verdicts, actions the platform performed)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from bot.classifiers.rules_only import RulesOnlyClassifier
from bot.connection import Redis
from bot.message import Author, Message
from bot.metrics import Metrics
from bot.pipeline.ingest import Ingest
from bot.pipeline.worker import Worker
from bot.policy import Policy
from bot.review.decision import Decision
from bot.runtime import build_worker
from bot.settings import Settings
from bot.streams import Streams, read_decision
from bot.trim import read_backlog, trim_stream
from tests.harness import ChatHarness
from tests.review_harness import Clock, FixedScores, ReviewHarness, moderator

CAP = 100
INSULT = "you're kind of an idiot about this"


def _conversation(n: int, *, first: int = 0) -> list[Message]:
    """n messages from n members; every tenth is a slur, so actions happen."""
    return [
        Message(
            platform="console",
            workspace="T1",
            channel="general",
            id=f"m{i}",
            author=Author(id=f"u{i}"),
            text=f"you f4gg0t number {i}" if i % 10 == 0 else f"hello number {i}",
        )
        for i in range(first, first + n)
    ]


def _worker(redis: Redis, settings: Settings, policy: Policy, metrics: Metrics) -> Worker:
    return build_worker(
        redis=redis, settings=settings, policy=policy, classifier=RulesOnlyClassifier(),
        metrics=metrics, consumer="worker-1",
    )  # fmt: skip


async def _drain(worker: Worker) -> None:
    for _ in range(500):
        if await worker.step() == 0:
            return
    raise AssertionError("the ingest stream did not drain")


@pytest.mark.parametrize("workers_ran_before", [True, False], ids=["workers-down", "never-up"])
async def test_messages_published_while_the_workers_are_down_are_all_moderated(
    redis: Redis,
    settings: Settings,
    default_policy: Policy,
    metrics: Metrics,
    workers_ran_before: bool,
) -> None:
    settings = settings.model_copy(update={"stream_maxlen": CAP})
    streams = Streams(namespace=settings.namespace)
    worker = _worker(redis, settings, default_policy, metrics)
    if workers_ran_before:  # the consumer group exists; then every worker goes down
        await worker.ensure_group()
    ingest = Ingest(redis=redis, streams=streams, maxlen=CAP, trim_every=50)
    messages = _conversation(1000)
    for message in messages:
        await ingest.publish(message)
    assert await redis.xlen(streams.ingest) == 1000, "no worker has seen them: all are kept"

    await worker.ensure_group()  # a worker starts
    await _drain(worker)

    decided = [await read_decision(redis, streams, m.key) for m in messages]
    assert sum(d is not None for d in decided) == 1000
    assert await redis.xlen(streams.dead) == 0
    # once the workers caught up, the cap holds again: the next trim leaves the newest CAP
    for message in _conversation(50, first=1000):
        await ingest.publish(message)
    assert await redis.xlen(streams.ingest) == CAP


async def test_only_entries_every_group_has_finished_are_trimmed(
    redis: Redis, settings: Settings
) -> None:
    streams = Streams(namespace=settings.namespace)
    stream = streams.ingest
    ingest = Ingest(redis=redis, streams=streams)
    await redis.xgroup_create(stream, streams.group, id="0", mkstream=True)
    ids = [await ingest.publish(m) for m in _conversation(10)]
    # a worker takes four, finishes two and dies holding the other two
    read: Any = await redis.xreadgroup(streams.group, "worker-dies", {stream: ">"}, count=4)
    assert [i.decode() for i, _ in read[0][1]] == ids[:4]
    await redis.xack(stream, streams.group, ids[0], ids[1])

    backlog = await read_backlog(redis, stream)
    workers = backlog.group(streams.group)
    assert (backlog.length, workers.pending, workers.undelivered) == (10, 2, 6)
    assert backlog.floor == ids[2]

    assert await trim_stream(redis, stream, cap=2) == 2
    assert [i.decode() for i, _ in await redis.xrange(stream)] == ids[2:]

    # a second group that has read nothing yet holds everything left
    await redis.xgroup_create(stream, "audit", id="0")
    assert await trim_stream(redis, stream, cap=2) == 0
    assert await redis.xlen(stream) == 8


async def test_a_stream_without_a_consumer_group_is_not_trimmed(
    redis: Redis, settings: Settings
) -> None:
    streams = Streams(namespace=settings.namespace)
    for message in _conversation(5):
        await Ingest(redis=redis, streams=streams).publish(message)
    assert await trim_stream(redis, streams.ingest, cap=1) == 0
    assert await redis.xlen(streams.ingest) == 5
    assert (await read_backlog(redis, streams.ingest)).group(streams.group).undelivered == 5


async def test_undelivered_entries_are_counted_up_to_a_limit_where_redis_has_no_lag(
    redis: Redis, settings: Settings
) -> None:
    streams = Streams(namespace=settings.namespace)
    await redis.xgroup_create(streams.ingest, streams.group, id="0", mkstream=True)
    ingest = Ingest(redis=redis, streams=streams)
    for message in _conversation(8):
        await ingest.publish(message)
    capped = (await read_backlog(redis, streams.ingest, count_limit=5)).group(streams.group)
    version = int(str((await redis.info("server"))["redis_version"]).split(".")[0])
    if version >= 7:  # XINFO GROUPS reports the lag: exact, nothing counted
        assert (capped.undelivered, capped.counted_up_to) == (8, None)
    else:
        assert (capped.undelivered, capped.counted_up_to) == (5, 5)


async def test_moderators_decisions_wait_for_an_adapter_that_is_down(
    redis: Redis, settings: Settings, default_policy: Policy, metrics: Metrics
) -> None:
    chat = ChatHarness(
        redis=redis, settings=settings, policy=default_policy,
        classifier=FixedScores({INSULT: {"toxicity": 0.7}}), metrics=metrics,
    )  # fmt: skip
    review = ReviewHarness(
        chat=chat, clock=Clock(datetime(2026, 11, 27, 12, 0, tzinfo=UTC)),
        stream_maxlen=CAP, trim_interval_s=0.0,
    )  # fmt: skip
    for i in range(CAP):
        await chat.say(INSULT, user=f"member{i}")
    await review.settle()  # a hundred cases in the queue
    cases = await review.service.queue(moderator(), limit=CAP)
    assert len(cases) == CAP

    # the adapter goes down; the moderators work through the queue
    sent = []
    for case in cases:
        _, actions = await review.service.decide(moderator(), case.id, Decision(kind="remove"))
        sent += actions
    assert len(sent) > CAP

    await review.settle()  # the adapter is back
    performed = [a.id for a in review.platform.performed if a.type != "open_case"]
    assert sorted(performed) == sorted(a.id for a in sent)
    assert await redis.xlen(chat.streams.actions("console")) == CAP


async def test_the_workers_actions_wait_for_an_adapter_that_is_down(
    redis: Redis, settings: Settings, default_policy: Policy, metrics: Metrics
) -> None:
    settings = settings.model_copy(update={"stream_maxlen": CAP})
    chat = ChatHarness(
        redis=redis, settings=settings, policy=default_policy,
        classifier=RulesOnlyClassifier(), metrics=metrics,
    )  # fmt: skip
    review = ReviewHarness(
        chat=chat, clock=Clock(datetime(2026, 11, 27, 12, 0, tzinfo=UTC)),
        stream_maxlen=CAP, trim_interval_s=0.0,
    )  # fmt: skip
    await review.dispatcher.ensure_group()  # the adapter ran before, and is down now
    slurs = [m for m in _conversation(1500) if m.text.startswith("you")]
    for message in slurs:
        await chat.ingest.publish(message)
    await chat.worker.ensure_group()
    await _drain(chat.worker)
    emitted: Any = await redis.xlen(chat.streams.actions("console"))

    await review.settle()  # the adapter is back
    deleted = {a.message_id for a in review.platform.performed if a.type == "delete"}
    assert deleted == {m.id for m in slurs}, f"{emitted} actions were left in the stream"


async def test_the_worker_reports_what_waits_for_it(
    redis: Redis, settings: Settings, default_policy: Policy, metrics: Metrics
) -> None:
    """The lag gauges an operator's alert reads: 40 published, none given to a worker yet."""
    streams = Streams(namespace=settings.namespace)
    worker = _worker(redis, settings, default_policy, metrics)
    await worker.ensure_group()
    ingest = Ingest(redis=redis, streams=streams)
    for message in _conversation(40):
        await ingest.publish(message)
    await worker.step()  # looks at the backlog first, then takes a batch
    assert metrics.stream_length._value.get() == 40
    assert metrics.stream_undelivered._value.get() == 40
    assert metrics.stream_pending._value.get() == 0
