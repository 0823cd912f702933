"""The vLLM server killed mid-run: the fallback answers, marked degraded, nothing is lost.

Last in the session on purpose (the file sorts last): it SIGKILLs the shared tiny Llama server,
which the ``llama`` fixture restarts for any test that needs it afterwards.
"""

from __future__ import annotations

import asyncio

import pytest

from bot.classifiers import (
    CascadeClassifier,
    CircuitBreaker,
    CircuitState,
    RetryPolicy,
    RulesOnlyClassifier,
    VllmClassifier,
)
from bot.connection import Redis
from bot.metrics import Metrics
from bot.policy import Policy
from bot.settings import Settings
from bot.verdict import Route
from tests.vllm.chat import decide_all, lines, served_chat, verdicts
from tests.vllm.conftest import LLAMA
from tests.vllm.servers import VllmServer, openai_client

# the first test waits for the session fixture: venv build (once) and two server starts
pytestmark = [pytest.mark.vllm, pytest.mark.timeout(900)]


async def test_server_killed_mid_run_falls_back_and_loses_nothing(
    llama: VllmServer,
    redis: Redis,
    settings: Settings,
    default_policy: Policy,
    metrics: Metrics,
) -> None:
    async with openai_client(llama.base_url, timeout=20) as client:
        llm = VllmClassifier(
            client=client, model=LLAMA, policy=default_policy,
            retry=RetryPolicy(attempts=2, base_s=0.05, cap_s=0.2),
            breaker=CircuitBreaker(failures=3, reset_after_s=600),
        )  # fmt: skip
        chat = served_chat(
            redis=redis, settings=settings, policy=default_policy, metrics=metrics,
            classifier=CascadeClassifier(first=RulesOnlyClassifier(), second=llm,
                                         policy=default_policy, mode="every",
                                         fallbacks=metrics.classifier_fallbacks),
            batch_size=8,
        )  # fmt: skip
        messages = [chat.message(text, user=f"u{i % 7}") for i, text in enumerate(lines(48))]
        for message in messages:
            await chat.ingest.publish(message)

        async def kill_after(decided: int) -> None:
            for _ in range(30_000):
                if sum([await chat.verdict(m) is not None for m in messages]) >= decided:
                    break
                await asyncio.sleep(0.02)
            await asyncio.to_thread(llama.kill)  # SIGKILL while a batch is in flight

        killer = asyncio.create_task(kill_after(12))
        await decide_all(chat, messages)
        await killer

    decided = await verdicts(chat, messages)
    assert len(decided) == 48, "nothing lost"
    served = [v for v in decided if not v.degraded]
    fallen = [v for v in decided if v.degraded]
    assert len(served) >= 12, "answered by the server before the kill"
    assert fallen, "answered by the fallback after it"
    assert decided == served + fallen, "once down, every later message fell back"
    assert {v.model for v in fallen} == {"rules-only"}
    assert all(v.route is Route.ALLOW or v.stage == "rules" for v in fallen)
    assert await redis.xlen(chat.streams.dead) == 0
    assert llm.breaker.state is CircuitState.OPEN
    fallbacks = metrics.registry.get_sample_value(
        "modtriage_classifier_fallbacks_total",
        {"model": llm.name, "kind": "ClassifierUnavailable"},
    )
    assert fallbacks == len(fallen)
