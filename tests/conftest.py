"""Shared fixtures: a real Redis (REDIS_URL, else embedded), a clean environment per test."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from bot.classifiers.rules_only import RulesOnlyClassifier
from bot.connection import EmbeddedRedis, Redis, redis_client
from bot.metrics import Metrics
from bot.policy import FaqSettings, Policy, load_policy
from bot.settings import Settings
from tests.harness import ChatHarness

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_POLICY = ROOT / "bot" / "policies" / "default.yaml"
_REDIS_URL = os.environ.get("REDIS_URL")

# The Messages API server and escalating chats (``api``, ``escalating``).
pytest_plugins = ["tests.frontier_chat"]


@pytest.fixture(autouse=True)
def clean_environ(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test states its own settings: nothing leaks in from the shell."""
    for name in list(os.environ):
        if name.startswith(("MODTRIAGE_", "SLACK_", "DISCORD_", "ANTHROPIC_")) or name in {
            "REDIS_URL"
        }:
            monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if _REDIS_URL:
        yield _REDIS_URL
        return
    server = EmbeddedRedis(data_dir=tmp_path_factory.mktemp("redis"))
    url = server.start()
    yield url
    server.stop()


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[Redis]:
    client = redis_client(redis_url)
    yield client
    await client.aclose()


@pytest.fixture
def namespace() -> str:
    """A fresh key namespace per test, so tests never see each other's streams."""
    return f"test-{uuid.uuid4().hex[:10]}"


@pytest.fixture
def settings(redis_url: str, namespace: str, tmp_path: Path) -> Settings:
    return Settings(
        redis_url=redis_url,
        namespace=namespace,
        data_dir=tmp_path / "data",
        classifier="rules",
        block_ms=20,
        claim_idle_ms=200,
        _env_file=None,  # type: ignore[call-arg]
    )


@pytest.fixture(scope="session")
def default_policy() -> Policy:
    """The default policy for moderation tests: FAQ answers off (tests/test_faq_* turn them on),
    so a question in a moderation test gets no reply and no encoder is loaded."""
    policy = load_policy(DEFAULT_POLICY)
    return policy.model_copy(update={"faq": FaqSettings()})


@pytest.fixture
def metrics() -> Metrics:
    return Metrics(registry=CollectorRegistry())


@pytest.fixture
def chat(redis: Redis, settings: Settings, default_policy: Policy, metrics: Metrics) -> ChatHarness:
    """A chat on the default policy with the rules-only classifier."""
    return ChatHarness(
        redis=redis,
        settings=settings,
        policy=default_policy,
        classifier=RulesOnlyClassifier(),
        metrics=metrics,
    )
