"""``/mod summary`` written by the tiny random Llama on a real vLLM CPU server, under the JSON
schema generated from the summary's pydantic model: what the server received (the schema, the
redacted thread) and what the moderator gets back (the model's summary when its answer
validates, else the extractive one, marked so).

The weights are random: these tests assert schema validity, redaction and the fallback, never
what the summary says. One server for the module (the tiny Llama only).
"""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.classifiers.onnx_encoder import OnnxEncoder
from bot.connection import Redis
from bot.insights.summary import ExtractiveSummariser, ThreadSummary, clip
from bot.insights.summary_vllm import VllmSummariser, draft_model
from bot.message import Author, Message
from bot.policy import Policy
from bot.review.actor import Actor
from bot.review.service import ModerationService
from bot.review.summary_desk import redacted_thread
from bot.settings import Settings
from bot.streams import Streams
from bot.verdict import Route, Verdict
from tests.vllm.conftest import LLAMA
from tests.vllm.proxy import RecordingProxy
from tests.vllm.servers import (
    DEFAULT_VENV,
    VllmServer,
    build_tiny_llama,
    ensure_venv,
    llama_args,
    openai_client,
)

pytestmark = [pytest.mark.vllm, pytest.mark.insights, pytest.mark.timeout(900)]

MOD = Actor(platform="slack", workspace="T0TEAM", user_id="U0MOD", is_admin=True)
REMOVED = ("eve.k@example.com", "+44 20 7946 0958", "2079460958", "s3cr3t")
CHAT = [
    ("U0ALICE", "is the 2.4 release still broken on macOS? <@U0EVE> said it crashes"),
    ("U0EVE", "yes, at start. call me on +44 20 7946 0958 or mail eve.k@example.com"),
    ("U0EVE", "crash log: https://logs.example.com/run/77?sig=s3cr3t"),
    ("U0MALLORY", "free nitro here"),
    ("U0ALICE", "the 2.3 release works fine on macOS for me"),
]


def _messages() -> list[Message]:
    start = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    return [
        Message(
            platform="slack",
            workspace="T0TEAM",
            channel="C0GENERAL",
            id=f"17643200{i}0.000100",
            author=Author(id=user),
            text=text,
            ts=start + timedelta(minutes=i),
        )
        for i, (user, text) in enumerate(CHAT)
    ]


@pytest.fixture(scope="module")
def tiny_llama(tmp_path_factory: pytest.TempPathFactory) -> Iterator[VllmServer]:
    python = ensure_venv(Path(os.environ.get("MODTRIAGE_TEST_VLLM_VENV", DEFAULT_VENV)))
    home = tmp_path_factory.mktemp("vllm-summary")
    model = build_tiny_llama(python, home / "tiny-llama")
    server = VllmServer(python=python, model=model, name=LLAMA, home=home / "llama",
                        args=llama_args(), core=0)  # fmt: skip
    try:
        server.launch()
        server.wait_ready()
        yield server
    finally:
        server.stop()


@pytest.fixture
async def proxy(tiny_llama: VllmServer) -> AsyncIterator[RecordingProxy]:
    async with RecordingProxy(upstream=tiny_llama.url) as recording:
        yield recording


def _service(
    redis: Redis, settings: Settings, policy: Policy, proxy: RecordingProxy, **kw: int
) -> tuple[ModerationService, VllmSummariser, ExtractiveSummariser]:
    extractive = ExtractiveSummariser(encoder=OnnxEncoder())
    summariser = VllmSummariser(
        client=openai_client(proxy.base_url), model=LLAMA, extractive=extractive, **kw
    )
    service = ModerationService(
        redis=redis,
        streams=Streams(namespace=settings.namespace),
        policy=policy,
        summariser=summariser,
    )
    return service, summariser, extractive


def _schema(policy: Policy) -> dict[str, object]:
    messages = _messages()
    quiet = [Verdict(message_key=m.key, route=Route.ALLOW, stage="rules") for m in messages]
    return draft_model(redacted_thread(messages, quiet), policy).model_json_schema()


def _no_personal_data(text: str) -> None:
    for removed in REMOVED:
        assert removed not in text


async def test_the_model_answers_in_the_summary_schema_and_never_sees_personal_data(
    proxy: RecordingProxy, redis: Redis, settings: Settings, default_policy: Policy
) -> None:
    service, summariser, _ = _service(redis, settings, default_policy, proxy)
    try:
        summary = await service.summarise(MOD, _messages())
    finally:
        await summariser.aclose()

    [exchange] = [e for e in proxy.exchanges if e.path.endswith("/chat/completions")]
    assert exchange.status == 200
    sent = exchange.request
    assert sent["response_format"]["type"] == "json_schema"
    schema = sent["response_format"]["json_schema"]["schema"]
    assert schema == _schema(default_policy)  # generated from the pydantic model
    assert schema["$defs"]["ParticipantDraft"]["properties"]["who"]["enum"] == [
        "user1", "user2", "user3",
    ]  # fmt: skip
    prompt = json.dumps(sent["messages"], ensure_ascii=False)
    _no_personal_data(prompt)
    assert "[email1]" in prompt
    assert "[phone1]" in prompt
    assert "?[query1]" in prompt
    assert "@user2" in prompt
    assert "U0EVE" not in prompt

    answer = exchange.response["choices"][0]
    content = answer["message"]["content"]
    if answer["finish_reason"] == "stop":  # xgrammar ends it inside the schema
        drafted = json.loads(content)
        assert summary.method == "vllm", summary.note
        assert summary.model == LLAMA
        assert summary.gist == tuple(line for line in map(clip, drafted["gist"]) if line)
        assert 1 <= len(summary.gist) <= 5
    else:
        assert summary.method == "extractive-fallback"
        assert summary.note == "the model's answer was cut at 700 tokens"
    # the suggestion stays inside the policy: spam acts by its thresholds, so act or review
    assert summary.suggested.route in {Route.ACT, Route.ESCALATE, Route.REVIEW}
    assert ThreadSummary.model_validate_json(summary.model_dump_json()) == summary
    _no_personal_data(summary.model_dump_json())
    assert summary.links == ("https://logs.example.com/run/77?[query1]",)


async def test_an_answer_cut_short_gives_the_extractive_summary_and_says_so(
    proxy: RecordingProxy, redis: Redis, settings: Settings, default_policy: Policy
) -> None:
    service, summariser, extractive = _service(redis, settings, default_policy, proxy, max_tokens=8)
    try:
        summary = await service.summarise(MOD, _messages())
    finally:
        await summariser.aclose()

    [exchange] = [e for e in proxy.exchanges if e.path.endswith("/chat/completions")]
    assert exchange.response["choices"][0]["finish_reason"] == "length"
    assert summary.method == "extractive-fallback"
    assert summary.note == "the model's answer was cut at 8 tokens"
    messages = _messages()
    judged = await (await service.judge_for(MOD.tenant)).judge(messages)
    verdicts = [j.verdict for j in judged if j.verdict is not None]
    plain = await extractive.summarise(redacted_thread(messages, verdicts), default_policy)
    assert summary.gist == plain.gist  # the extractive summary, word for word
    assert summary.suggested == plain.suggested
    _no_personal_data(summary.model_dump_json())
