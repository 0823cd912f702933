"""Chat lines for the vLLM tests, and a harness wired to a served classifier."""

from __future__ import annotations

from bot.classifiers.base import Classifier
from bot.connection import Redis
from bot.message import Message
from bot.metrics import Metrics
from bot.policy import Policy
from bot.settings import Settings
from bot.verdict import Verdict
from tests.harness import ChatHarness

LINES = (
    "hey all, is the meetup still on friday?",
    "shut up you absolute idiot, nobody asked",
    "how do I reset my password?",
    "I'm going to find you and beat you until you can't walk",
    "this bug is killing me, the build fails on every push",
    "proud to be gay and proud of this community",
    "I made $5000 in a week with this crypto bot, DM me to join",
    "can someone review my pull request when they get a chance?",
    "I don't want to be alive anymore",
    "lol that ranked match destroyed me",
)


def lines(count: int) -> list[str]:
    """``count`` distinct chat lines (the duplicate-message rule never fires)."""
    return [f"{LINES[i % len(LINES)]} (#{i})" for i in range(count)]


def served_chat(
    *,
    redis: Redis,
    settings: Settings,
    policy: Policy,
    classifier: Classifier,
    metrics: Metrics,
    batch_size: int = 16,
) -> ChatHarness:
    """A chat whose worker waits long enough for a CPU-served model (one core, shared)."""
    slow = settings.model_copy(update={"model_timeout_s": 180.0, "batch_size": batch_size})
    return ChatHarness(
        redis=redis, settings=slow, policy=policy, classifier=classifier, metrics=metrics
    )


async def decide_all(chat: ChatHarness, messages: list[Message], *, max_steps: int = 500) -> None:
    """Run the worker until every message has a verdict (or fail after ``max_steps``)."""
    await chat.worker.ensure_group()
    for _ in range(max_steps):
        if all([await chat.verdict(m) is not None for m in messages]):
            return
        await chat.worker.step()
    raise AssertionError("not every message was decided")


async def verdicts(chat: ChatHarness, messages: list[Message]) -> list[Verdict]:
    found = [await chat.verdict(m) for m in messages]
    assert all(v is not None for v in found)
    return [v for v in found if v is not None]
