"""The small model failing for whole batches: the rules still decide, nothing is dead-lettered.

The worker runs on real Redis; the model is a VllmClassifier on a local server speaking the
OpenAI-compatible protocol (the far side) that answers 500, or too late."""

from __future__ import annotations

import random
from typing import Any

import pytest

from bot.classifiers import RetryPolicy, VllmClassifier
from bot.connection import Redis
from bot.metrics import Metrics
from bot.pipeline.decide import MODEL_UNAVAILABLE_RULE
from bot.pipeline.ingest import Ingest
from bot.policy import Policy
from bot.runtime import build_worker
from bot.settings import Settings
from bot.streams import Streams, decode_action, read_decision
from bot.verdict import Route
from tests.fake_openai import Answer, FakeOpenAI, judgement
from tests.harness import ChatHarness
from tests.vllm.servers import openai_client

FAILURES = {
    "server error": Answer(status=500),
    "no answer in time": Answer(judgement(), delay_s=3.0),
}


@pytest.mark.parametrize("failure", list(FAILURES), ids=list(FAILURES))
async def test_a_failing_model_leaves_rule_hits_acted_on_and_the_rest_for_review(
    failure: str,
    redis: Redis,
    settings: Settings,
    default_policy: Policy,
    metrics: Metrics,
) -> None:
    settings = settings.model_copy(
        update={"claim_idle_ms": 1, "max_deliveries": 2, "model_timeout_s": 0.3}
    )
    streams = Streams(namespace=settings.namespace)
    async with FakeOpenAI(answer=lambda _: FAILURES[failure]) as server:
        classifier = VllmClassifier(
            client=openai_client(server.base_url, timeout=1.0), model="guard",
            policy=default_policy,
            retry=RetryPolicy(attempts=2, base_s=0.01, cap_s=0.02, rng=random.Random(3)),
        )  # fmt: skip
        worker = build_worker(
            redis=redis, settings=settings, policy=default_policy, classifier=classifier,
            metrics=metrics, consumer="w1",
        )  # fmt: skip
        chat = ChatHarness(
            redis=redis, settings=settings, policy=default_policy, classifier=classifier,
            metrics=metrics,
        )  # fmt: skip
        slur = chat.message("you f4gg0t", user="troll")
        ordinary = chat.message("has anyone tried the new release yet?")
        ingest = Ingest(redis=redis, streams=streams)
        await worker.ensure_group()
        for message in (slur, ordinary):
            await ingest.publish(message)
        for _ in range(10):  # enough rounds for a failing entry to run out of deliveries
            worker.reclaim_soon()  # on every step instead of once a second
            await worker.step()
        await classifier.aclose()
    assert server.received, "the model was asked"

    assert await redis.xlen(streams.dead) == 0
    pending: Any = await redis.xpending(streams.ingest, streams.group)
    assert pending["pending"] == 0

    decided_slur = await read_decision(redis, streams, slur.key)
    assert decided_slur is not None
    verdict = decided_slur[1]
    assert (verdict.route, verdict.stage, verdict.degraded) == (Route.ACT, "rules", True)

    decided_ordinary = await read_decision(redis, streams, ordinary.key)
    assert decided_ordinary is not None
    verdict = decided_ordinary[1]
    assert (verdict.route, verdict.degraded, verdict.category) == (Route.REVIEW, True, None)
    [evidence] = verdict.evidence
    assert evidence.rule == MODEL_UNAVAILABLE_RULE
    assert evidence.note is not None
    assert "model was unavailable" in evidence.note

    committed = [f[b"message"] for _, f in await redis.xrange(streams.verdicts)]
    assert len(committed) == 2, "each message committed once"
    entries = await redis.xrange(streams.actions("console"))
    actions = [decode_action(i.decode(), f) for i, f in entries]
    assert [(a.message_key, a.type) for a in actions] == [
        (slur.key, "delete"),
        (slur.key, "warn"),
        (slur.key, "open_case"),
        (slur.key, "timeout"),  # the case's strike points reach the ladder's first step
        (ordinary.key, "open_case"),
    ]
