"""The worker through real Redis: bad input, dead letters, redelivery, metrics."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bot.classification import Classification
from bot.classifiers.rules_only import RulesOnlyClassifier
from bot.connection import Redis
from bot.keys import CaseKeys
from bot.metrics import Metrics
from bot.pipeline.ingest import Ingest
from bot.policy import Policy
from bot.runtime import build_worker
from bot.settings import Settings
from bot.streams import Streams, read_decision
from bot.tenant import Tenant
from bot.verdict import Route
from tests.harness import ChatHarness


class RecordingClassifier:
    """Scores nothing, but keeps what it was given, to check what reaches the model."""

    name = "recording"

    def __init__(self) -> None:
        self.seen: list[str] = []

    async def classify(self, texts: Sequence[str]) -> list[Classification]:
        self.seen.extend(texts)
        return [Classification(scores={}, model=self.name) for _ in texts]


class PoisonedClassifier:
    """Fails on one text, as a model with a bug would; everything else scores nothing."""

    name = "poisoned"

    async def classify(self, texts: Sequence[str]) -> list[Classification]:
        if any("poison" in t for t in texts):
            raise ValueError("model crashed on this input")
        return [Classification(scores={}, model=self.name) for _ in texts]


async def test_blank_and_whitespace_messages_are_allowed_without_a_model_call(
    redis: Redis, settings: Settings, default_policy: Policy, metrics: Metrics
) -> None:
    model = RecordingClassifier()
    chat = ChatHarness(
        redis=redis, settings=settings, policy=default_policy, classifier=model, metrics=metrics
    )
    for text in ["", "   \n\t", "\u200b\u200b"]:
        verdict = await chat.say(text)
        assert verdict.route is Route.ALLOW
    assert model.seen == []


async def test_huge_message_keeps_its_text_but_the_model_reads_its_head_and_tail(
    redis: Redis, settings: Settings, default_policy: Policy, metrics: Metrics
) -> None:
    model = RecordingClassifier()
    chat = ChatHarness(
        redis=redis, settings=settings, policy=default_policy, classifier=model, metrics=metrics
    )
    text = "é" * 100_000
    message = chat.message(text)
    await chat.ingest.publish(message)
    await chat.worker.ensure_group()
    await chat.worker.step()
    stored = await read_decision(redis, chat.streams, message.key)
    assert stored is not None
    assert stored[0].text == text
    half = settings.model_max_chars // 2
    assert model.seen == [text[:half], text[-half:]]  # its first and last half of the budget


async def test_control_characters_and_lone_surrogates_are_cleaned_not_rejected(
    chat: ChatHarness,
) -> None:
    verdict = await chat.say("hello\x00 world \ud800 and \x1b[31mred")
    assert verdict.route is Route.ALLOW
    message = chat.message("ok\x07\udfff")
    assert message.text == "ok\ufffd"


async def test_malformed_entries_are_dead_lettered_with_their_reason(
    chat: ChatHarness, redis: Redis
) -> None:
    await chat.worker.ensure_group()
    await redis.xadd(chat.streams.ingest, {"message": "{not json"})
    await redis.xadd(chat.streams.ingest, {"something": "else"})
    await redis.xadd(chat.streams.ingest, {"message": '{"platform": "irc"}'})
    verdict = await chat.say("a normal message after the junk")
    assert verdict.route is Route.ALLOW
    dead = await redis.xrange(chat.streams.dead)
    reasons = [fields[b"reason"].decode() for _, fields in dead]
    assert len(reasons) == 3
    assert reasons[0].startswith("invalid message")
    assert reasons[1] == "no 'message' field"
    assert "platform" in reasons[2]
    pending: Any = await redis.xpending(chat.streams.ingest, chat.streams.group)
    assert pending["pending"] == 0


async def test_a_message_that_keeps_failing_is_dead_lettered_and_the_rest_decided(
    redis: Redis, settings: Settings, default_policy: Policy, metrics: Metrics
) -> None:
    settings = settings.model_copy(update={"claim_idle_ms": 1, "max_deliveries": 3})
    streams = Streams(namespace=settings.namespace)
    worker = build_worker(
        redis=redis, settings=settings, policy=default_policy, classifier=PoisonedClassifier(),
        metrics=metrics, consumer="w1",
    )  # fmt: skip
    await worker.ensure_group()
    chat = ChatHarness(
        redis=redis, settings=settings, policy=default_policy,
        classifier=RulesOnlyClassifier(), metrics=metrics,
    )  # fmt: skip
    good = [chat.message(f"fine message {i}") for i in range(3)]
    bad = chat.message("this one is poison")
    ingest = Ingest(redis=redis, streams=streams)
    for message in [good[0], bad, *good[1:]]:
        await ingest.publish(message)
    for _ in range(20):
        worker.reclaim_soon()  # on every step instead of once a second
        await worker.step()
        if await redis.xlen(streams.dead):
            break
    for message in good:
        assert await read_decision(redis, streams, message.key) is not None
    assert await read_decision(redis, streams, bad.key) is None
    [(_, fields)] = await redis.xrange(streams.dead)
    assert fields[b"reason"].decode().startswith("failed 3 deliveries: ValueError")
    assert b"poison" in fields[b"message"]
    assert metrics.dead_letters.labels(reason="retries")._value.get() == 1


async def test_redelivery_of_a_decided_message_does_not_act_twice(
    chat: ChatHarness, redis: Redis
) -> None:
    message = chat.message("you f4gg0t", user="troll")
    await chat.ingest.publish(message)
    await chat.ingest.publish(message)  # an adapter retried the publish
    await chat.worker.ensure_group()
    await chat.worker.step()
    actions = await chat.actions()
    # a hate slur's strike points reach the ladder's first step: a timeout, once
    assert [a.type for a in actions] == ["delete", "warn", "open_case", "timeout"]
    assert await redis.xlen(chat.streams.verdicts) == 1
    seq = CaseKeys(chat.streams).seq(Tenant.of(message))
    assert int(await redis.get(seq)) == 1  # one case, numbered once


async def test_metrics_count_decisions_actions_and_stage_latency(
    chat: ChatHarness, metrics: Metrics
) -> None:
    await chat.say("hello there")
    await chat.say("free nitro here: discord.gg/xyz")
    registry = metrics.registry
    assert registry.get_sample_value("modtriage_messages_total", {"platform": "console"}) == 2
    assert (
        registry.get_sample_value(
            "modtriage_decisions_total", {"route": "act", "category": "spam", "stage": "rules"}
        )
        == 1
    )
    assert registry.get_sample_value("modtriage_actions_total", {"type": "delete"}) == 1
    assert registry.get_sample_value("modtriage_stage_seconds_count", {"stage": "rules"}) == 2
    chat.worker.reclaim_soon()
    await chat.worker.step()  # the periodic lag check runs with the reclaim
    assert registry.get_sample_value("modtriage_stream_length") == 2
    assert registry.get_sample_value("modtriage_stream_pending") == 0
