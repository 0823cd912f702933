"""Escalation to the frontier model, read as chat logs, against a local Messages API server.

The real ``anthropic`` SDK talks HTTP to tests/messages_api.py; the assertions are on what
that server received (redacted text, capped context, the tool schema) and on the verdicts.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any

import pytest
from anthropic import transform_schema
from pydantic import SecretStr

from bot.classification import Classification
from bot.connection import Redis
from bot.escalation import (
    TOOL_NAME,
    AnswerSchema,
    EscalationStore,
    Outcome,
)
from bot.metrics import Metrics
from bot.policy import Escalation, Policy
from bot.settings import Settings
from bot.verdict import Route
from tests.harness import ChatHarness
from tests.messages_api import MessagesApi, payload

pytestmark = pytest.mark.frontier


class ScoresByPhrase:
    """The small model's side of the story, stated by the test: a phrase -> its scores."""

    name = "scripted-small-model"

    def __init__(self, scores: dict[str, dict[str, float]]) -> None:
        self._scores = scores

    async def classify(self, texts: Sequence[str]) -> list[Classification]:
        out = []
        for text in texts:
            found = next((s for phrase, s in self._scores.items() if phrase in text), {})
            out.append(Classification(scores=found, model=self.name))
        return out


#: toxicity 0.9 sits in the default policy's escalate band (0.85 .. 0.97).
UNSURE = {"toxicity": 0.9}
HARD = "you're such a genius, really"


@pytest.fixture
async def api() -> AsyncIterator[MessagesApi]:
    async with MessagesApi() as server:
        yield server


ChatFactory = Callable[..., ChatHarness]


@pytest.fixture
async def escalating(
    redis: Redis,
    settings: Settings,
    default_policy: Policy,
    metrics: Metrics,
    api: MessagesApi,
) -> AsyncIterator[ChatFactory]:
    """Builds a chat whose policy escalates, with the real SDK pointed at the local server."""
    made: list[ChatHarness] = []

    def make(
        *, context_messages: int = 10, api_key: str | None = "sk-test", **overrides: Any
    ) -> ChatHarness:
        policy = default_policy.model_copy(
            update={"escalation": Escalation(enabled=True, context_messages=context_messages)}
        )
        update: dict[str, Any] = {
            "anthropic_base_url": api.url,
            "anthropic_api_key": SecretStr(api_key) if api_key else None,
            "frontier_max_retries": 2,
            "frontier_timeout_s": 5.0,
            **overrides,
        }
        chat = ChatHarness(
            redis=redis,
            settings=settings.model_copy(update=update),
            policy=policy,
            classifier=ScoresByPhrase({HARD: UNSURE, "you absolute clown": UNSURE}),
            metrics=metrics,
        )
        made.append(chat)
        return chat

    yield make
    for chat in made:
        await chat.worker.aclose()


async def record_of(chat: ChatHarness, redis: Redis, message_key: str) -> Any:
    return await EscalationStore(redis=redis, streams=chat.streams).load(message_key)


async def test_hard_message_goes_out_redacted_with_its_thread(
    escalating: ChatFactory, api: MessagesApi, redis: Redis, default_policy: Policy
) -> None:
    chat = escalating()
    await chat.say("hey <@bob> my mail is alice.w@example.com, text me on +44 20 7946 0958",
                   user="alice")  # fmt: skip
    await chat.say("alice you still owe me for the pizza, card 4111 1111 1111 1111 lol",
                   user="bob")  # fmt: skip
    await chat.say("unrelated chatter elsewhere", user="carol", channel="C2")
    verdict = await chat.say(HARD, user="bob")

    assert len(api.received) == 1
    sent = api.received[0]
    assert sent.path == "/v1/messages"
    # The key travels as x-api-key (older SDKs) or as a bearer token (newer ones).
    auth = sent.headers.get("x-api-key") or sent.headers["authorization"].removeprefix("Bearer ")
    assert auth == "sk-test"
    assert sent.body["model"] == "claude-sonnet-4-6"
    assert sent.body["tool_choice"] == {"type": "tool", "name": TOOL_NAME}
    [tool] = sent.body["tools"]
    assert tool["name"] == TOOL_NAME
    assert tool["strict"] is True
    assert tool["input_schema"] == transform_schema(AnswerSchema(policy=default_policy).model)
    assert set(tool["input_schema"]["$defs"]["CategoryScores"]["required"]) == set(
        default_policy.categories
    )
    # The policy travels in plain language.
    assert "Attacks, dehumanisation or slurs" in sent.system_text
    # What left the machine: the channel's thread, pseudonymised, without personal data.
    assert sent.user_text == (
        "<context>\n"
        "user1: hey @user2 my mail is [email1], text me on [phone1]\n"
        "user2: user1 you still owe me for the pizza, card [card1] lol\n"
        "</context>\n\n"
        '<message author="user2">\n'
        "you're such a genius, really\n"
        "</message>"
    )
    for secret in ("alice", "bob", "example.com", "7946", "4111", "carol", "unrelated"):
        assert secret not in sent.user_text.lower()

    # The frontier model calls it banter: allowed, decided by the escalate stage.
    assert verdict.route is Route.ALLOW
    assert verdict.stage == "escalate"
    assert verdict.classification is not None
    assert verdict.classification.model == "frontier:claude-sonnet-4-6"

    # The case keeps exactly what was sent and what came back, and maps pseudonyms back.
    record = await record_of(chat, redis, "console:T1:C1:m4")
    assert record.outcome is Outcome.ANSWERED
    assert record.sent is True
    assert record.user == sent.user_text
    assert record.system == sent.system_text
    assert record.answer == payload("tool_use_allow")["content"][0]["input"]
    assert record.pseudonyms["user1"] == "alice (alice)"
    assert record.pseudonyms["[email1]"] == "alice.w@example.com"
    assert record.first_opinion.scores == UNSURE
    assert record.usage.input_tokens == 1843
    assert record.cost == pytest.approx((1843 * 3.0 + 96 * 15.0) / 1e6)
