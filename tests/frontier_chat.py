"""Fixtures for chats whose policy escalates, with the real ``anthropic`` SDK pointed at the
local Messages API server (tests/messages_api.py). Test modules import them by name."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from pydantic import SecretStr

from bot.connection import Redis
from bot.escalation import EscalateStage, EscalationRecord, EscalationStore, build_escalate_stage
from bot.metrics import Metrics
from bot.policy import Escalation, Policy, Thresholds
from bot.settings import Settings
from bot.streams import Streams
from tests.harness import ChatHarness
from tests.messages_api import MessagesApi
from tests.small_model import ScoresByPhrase

#: toxicity 0.9 sits in the escalate band these tests open (0.85 .. 0.97).
UNSURE = {"toxicity": 0.9}
#: The default policy sends uncertain toxicity to people; a community may open a frontier band.
TOXICITY_BAND = Thresholds(review=0.6, escalate=0.85, act=0.97)
HARD = "you're such a genius, really"

ChatFactory = Callable[..., ChatHarness]


@pytest.fixture
async def api() -> AsyncIterator[MessagesApi]:
    async with MessagesApi() as server:
        yield server


def escalating_settings(settings: Settings, api: MessagesApi, **overrides: Any) -> Settings:
    """Settings that send escalations to the local server, with a test key."""
    api_key = overrides.pop("api_key", "sk-test")
    update: dict[str, Any] = {
        "anthropic_base_url": api.url,
        "anthropic_api_key": SecretStr(api_key) if api_key else None,
        "frontier_max_retries": 2,
        "frontier_timeout_s": 5.0,
        **overrides,
    }
    return settings.model_copy(update=update)


def escalating_policy(policy: Policy, **escalation: Any) -> Policy:
    """``policy`` with escalation on and toxicity's frontier band open."""
    categories = dict(policy.categories)
    categories["toxicity"] = categories["toxicity"].model_copy(update={"thresholds": TOXICITY_BAND})
    return policy.model_copy(
        update={"categories": categories, "escalation": Escalation(enabled=True, **escalation)}
    )


def escalating_stage(
    redis: Redis, settings: Settings, policy: Policy, api: MessagesApi, **overrides: Any
) -> tuple[Policy, Settings, EscalateStage]:
    """The policy, settings and escalate stage of a deployment that asks the local server."""
    policy = escalating_policy(policy)
    config = escalating_settings(settings, api, **overrides)
    stage = build_escalate_stage(
        redis=redis, settings=config, policy=policy, streams=Streams(namespace=config.namespace)
    )
    return policy, config, stage


@pytest.fixture
async def escalating(
    redis: Redis,
    settings: Settings,
    default_policy: Policy,
    metrics: Metrics,
    api: MessagesApi,
) -> AsyncIterator[ChatFactory]:
    """Builds a chat whose policy escalates. ``scores`` is what the small model says about
    texts containing each phrase (default: HARD and "you absolute clown" are unsure)."""
    made: list[ChatHarness] = []

    def make(
        *,
        context_messages: int = 10,
        scores: dict[str, dict[str, float]] | None = None,
        languages: tuple[str, ...] = ("en",),
        **overrides: Any,
    ) -> ChatHarness:
        chat = ChatHarness(
            redis=redis,
            settings=escalating_settings(settings, api, **overrides),
            policy=escalating_policy(
                default_policy, context_messages=context_messages, languages=languages
            ),
            classifier=ScoresByPhrase(scores or {HARD: UNSURE, "you absolute clown": UNSURE}),
            metrics=metrics,
        )
        made.append(chat)
        return chat

    yield make
    for chat in made:
        await chat.worker.aclose()


async def record_of(chat: ChatHarness, redis: Redis, message_key: str) -> EscalationRecord:
    found = await EscalationStore(redis=redis, streams=chat.streams).load(message_key)
    assert found is not None, f"no escalation record for {message_key}"
    return found
