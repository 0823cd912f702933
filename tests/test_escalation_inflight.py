"""One conversation, one paid request: a second escalation of the same content waits for the
first one's answer instead of asking again, even when a slow answer outlasts the worker's
claim on the message and another worker picks it up."""

from __future__ import annotations

import asyncio

import pytest

from bot.connection import Redis
from bot.escalation import Outcome
from bot.message import Author, Message
from bot.metrics import Metrics
from bot.policy import Policy
from bot.runtime import build_worker
from bot.settings import Settings
from bot.streams import read_decision
from bot.verdict import Route
from tests.frontier_chat import (
    HARD,
    ChatFactory,
    escalating_stage,
    record_of,
)
from tests.messages_api import MessagesApi, Reply

pytestmark = pytest.mark.frontier


def _said(text: str, *, channel: str, id: str, user: str) -> Message:
    return Message(
        platform="console",
        workspace="T1",
        channel=channel,
        id=id,
        author=Author(id=user, name=user),
        text=text,
    )


async def test_two_workers_asking_about_the_same_conversation_pay_once(
    redis: Redis, settings: Settings, default_policy: Policy, api: MessagesApi
) -> None:
    api.default = Reply(delay_s=1.0)  # a slow answer
    first, second = (escalating_stage(redis, settings, default_policy, api)[2] for _ in range(2))
    # the same words from different members in different channels: the same redacted prompt
    bob = _said(HARD, channel="C1", id="m1", user="bob")
    dave = _said(HARD, channel="C2", id="m2", user="dave")
    try:
        answers = await asyncio.gather(first.ask(bob), second.ask(dave))
    finally:
        await first.aclose()
        await second.aclose()

    assert len(api.received) == 1
    assert sorted(a.outcome for a in answers) == [Outcome.ANSWERED, Outcome.CACHED]
    assert answers[0].classification == answers[1].classification


async def test_a_slow_answer_that_outlasts_the_claim_is_not_paid_twice(
    escalating: ChatFactory, api: MessagesApi, redis: Redis, metrics: Metrics
) -> None:
    # The worker's claim on a message lapses after 200 ms; the frontier model takes 1.5 s.
    chat = escalating(claim_idle_ms=200)
    api.default = Reply("tool_use_act", delay_s=1.5)
    other = build_worker(
        redis=redis,
        settings=chat.settings,
        policy=chat.policy,
        classifier=chat.classifier,
        metrics=metrics,
        consumer="other-worker",
    )
    message = chat.message("you absolute clown, read the docs", user="mallory")
    await chat.ingest.publish(message)
    await chat.worker.ensure_group()

    slow = asyncio.create_task(chat.worker.step())  # the first worker reads it and asks
    await asyncio.sleep(0.5)
    assert await other.step() == 1  # the second reclaims it, and waits for the same answer
    await slow
    await other.aclose()

    assert len(api.received) == 1
    decided = await read_decision(redis, chat.streams, message.key)
    assert decided is not None
    assert decided[1].route is Route.ACT
    assert [a.type for a in await chat.actions()] == ["delete", "warn", "open_case"]  # once
    # the record keeps the request that was paid for, not the second worker's cache hit
    record = await record_of(chat, redis, message.key)
    assert record.outcome is Outcome.ANSWERED
    assert record.sent
    assert record.cost > 0
    assert await redis.xpending(chat.streams.ingest, chat.streams.group) == {
        "pending": 0, "min": None, "max": None, "consumers": []
    }  # fmt: skip


async def test_when_the_request_waited_for_fails_the_waiting_message_goes_to_review(
    redis: Redis, settings: Settings, default_policy: Policy, api: MessagesApi
) -> None:
    api.default = Reply(delay_s=3.0)  # the first request times out after 1 s
    first, second = (
        escalating_stage(
            redis, settings, default_policy, api, frontier_timeout_s=1.0, frontier_max_retries=0
        )[2]
        for _ in range(2)
    )
    bob = _said(HARD, channel="C1", id="m1", user="bob")
    dave = _said(HARD, channel="C2", id="m2", user="dave")
    try:
        first_task = asyncio.create_task(first.ask(bob))
        await asyncio.sleep(0.2)
        waited = await second.ask(dave)
        await first_task
    finally:
        await first.aclose()
        await second.aclose()

    assert len(api.received) == 1
    assert waited.outcome is Outcome.UNAVAILABLE
    assert not waited.sent
    assert waited.error is not None
    assert "same conversation" in waited.error
