"""The policy-reading model on a real vLLM server (tiny random Llama, structured outputs).

The weights are random, so these tests assert that every answer validates against the schema
and flows through the pipeline, and what the server received; never which label it chose.
"""

from __future__ import annotations

import pytest

from bot.classifiers import (
    CascadeClassifier,
    PromptFormat,
    RulesOnlyClassifier,
    VllmClassifier,
)
from bot.connection import Redis
from bot.metrics import Metrics
from bot.policy import Policy
from bot.settings import Settings
from tests.vllm.chat import LINES, decide_all, lines, served_chat, verdicts
from tests.vllm.conftest import LLAMA
from tests.vllm.proxy import RecordingProxy
from tests.vllm.servers import VllmServer, openai_client

# the first test waits for the session fixture: venv build (once) and two server starts
pytestmark = [pytest.mark.vllm, pytest.mark.timeout(900)]


def invalid_count(metrics: Metrics, model: str) -> float:
    value = metrics.registry.get_sample_value(
        "modtriage_classifier_invalid_total", {"model": model}
    )
    return value or 0.0


async def test_every_answer_validates_and_flows_through_the_pipeline(
    llama_proxy: RecordingProxy,
    redis: Redis,
    settings: Settings,
    default_policy: Policy,
    metrics: Metrics,
) -> None:
    async with openai_client(llama_proxy.base_url) as client:
        llm = VllmClassifier(
            client=client, model=LLAMA, policy=default_policy,
            faq_ids=("reset_password", "meetup"), invalid=metrics.classifier_invalid,
        )  # fmt: skip
        chat = served_chat(
            redis=redis, settings=settings, policy=default_policy, metrics=metrics,
            classifier=CascadeClassifier(first=RulesOnlyClassifier(), second=llm,
                                         policy=default_policy, mode="every"),
        )  # fmt: skip
        for text in LINES:
            verdict = await chat.say(text)
            assert verdict.classification is not None
            assert verdict.classification.model == "vllm:tiny-llama:instruct"
            assert not verdict.degraded
            assert set(verdict.classification.scores) == set(default_policy.categories)

    received = llama_proxy.completions()
    assert len(received) == len(LINES)
    for exchange, text in zip(received, LINES, strict=True):
        assert exchange.path == "/v1/chat/completions"
        assert exchange.request["response_format"]["json_schema"]["schema"] == llm.prompter.schema
        assert exchange.request["messages"][1]["content"] == f"<message>\n{text}\n</message>"
        answer = exchange.response["choices"][0]["message"]["content"]
        llm.prompter.judgement.model_validate_json(answer)  # raises if it broke the schema
    assert invalid_count(metrics, llm.name) == 0


@pytest.mark.parametrize("prompt_format", list(PromptFormat))
async def test_each_prompt_format_answers_in_its_schema(
    llama_proxy: RecordingProxy, default_policy: Policy, prompt_format: PromptFormat
) -> None:
    async with openai_client(llama_proxy.base_url) as client:
        llm = VllmClassifier(
            client=client, model=LLAMA, policy=default_policy, prompt_format=prompt_format
        )
        results = await llm.classify(list(LINES[:3]))

    assert [r.model for r in results] == [f"vllm:tiny-llama:{prompt_format}"] * 3
    for result in results:
        assert set(result.scores) == set(default_policy.categories)
        assert all(0.0 <= s <= 1.0 for s in result.scores.values())
    per_text = len(default_policy.categories) if prompt_format in {
        PromptFormat.SHIELDGEMMA, PromptFormat.GRANITE_GUARDIAN} else 1  # fmt: skip
    received = llama_proxy.completions()
    assert len(received) == 3 * per_text
    for exchange in received:
        constrained = exchange.request.get("response_format") or exchange.request.get(
            "structured_outputs"
        )
        assert constrained, "every request is constrained by structured outputs"


async def test_200_messages_through_the_pipeline_with_vllm_as_classifier(
    llama: VllmServer,
    redis: Redis,
    settings: Settings,
    default_policy: Policy,
    metrics: Metrics,
) -> None:
    async with openai_client(llama.base_url) as client:
        llm = VllmClassifier(
            client=client, model=LLAMA, policy=default_policy, invalid=metrics.classifier_invalid
        )
        chat = served_chat(
            redis=redis, settings=settings, policy=default_policy, metrics=metrics,
            classifier=CascadeClassifier(first=RulesOnlyClassifier(), second=llm,
                                         policy=default_policy, mode="every"),
            batch_size=32,
        )  # fmt: skip
        messages = [chat.message(text, user=f"u{i % 17}") for i, text in enumerate(lines(200))]
        for message in messages:
            await chat.ingest.publish(message)
        await decide_all(chat, messages)

    decided = await verdicts(chat, messages)
    assert len(decided) == 200
    assert {v.model for v in decided} == {"vllm:tiny-llama:instruct"}
    assert not any(v.degraded for v in decided)
    assert await redis.xlen(chat.streams.dead) == 0
    assert invalid_count(metrics, llm.name) == 0
