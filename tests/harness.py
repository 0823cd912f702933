"""A chat-log harness: say things in channels, then look at what modtriage decided and did.

harness = ChatHarness(...)
verdict = await harness.say("free nitro at discord-gift.example.ru", user="mallory")
assert [a.type for a in harness.actions()] == ["delete", "warn", "open_case"]
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from bot.action import Action
from bot.classifiers.base import Classifier
from bot.classifiers.encoder import Encoder
from bot.connection import Redis
from bot.message import Author, Message, Platform
from bot.metrics import Metrics
from bot.pipeline.ingest import Ingest
from bot.pipeline.worker import Worker
from bot.policy import Policy
from bot.runtime import build_worker
from bot.settings import Settings
from bot.streams import decode_action, read_decision
from bot.tenant import Tenant
from bot.verdict import Verdict


class ChatHarness:
    def __init__(
        self,
        *,
        redis: Redis,
        settings: Settings,
        policy: Policy,
        classifier: Classifier,
        metrics: Metrics,
        platform: Platform = "console",
        workspace: str = "T1",
        encoder: Encoder | None = None,
    ) -> None:
        self.redis = redis
        self.settings = settings
        self.policy = policy
        self.classifier = classifier
        self.streams = settings.streams()
        self.platform: Platform = platform
        self.workspace = workspace
        self.ingest = Ingest(redis=redis, streams=self.streams)
        self._metrics = metrics
        self._encoder = encoder
        self.worker: Worker = self._worker()
        self._ids = itertools.count(1)
        self._clock = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)

    def _worker(self, clock: Callable[[], datetime] | None = None) -> Worker:
        return build_worker(
            redis=self.redis, settings=self.settings, policy=self.policy,
            classifier=self.classifier, metrics=self._metrics, consumer="harness",
            encoder=self._encoder, clock=clock,
        )  # fmt: skip

    def use_clock(self, clock: Callable[[], datetime]) -> None:
        """The worker dates the cases it opens by ``clock`` (the review service's)."""
        self.worker = self._worker(clock)

    def message(
        self,
        text: str,
        *,
        user: str = "alice",
        channel: str = "C1",
        roles: tuple[str, ...] = (),
        thread: str | None = None,
        after: timedelta = timedelta(seconds=30),
        **extra: Any,
    ) -> Message:
        self._clock += after
        return Message(
            platform=self.platform,
            workspace=self.workspace,
            channel=channel,
            id=f"m{next(self._ids)}",
            author=Author(id=user, name=user, roles=roles),
            text=text,
            ts=self._clock,
            thread=thread,
            **extra,
        )

    async def say(self, text: str, **kwargs: Any) -> Verdict:
        """Post a message and run the worker until it is decided."""
        message = self.message(text, **kwargs)
        await self.ingest.publish(message)
        await self.worker.ensure_group()
        for _ in range(50):
            await self.worker.step()
            verdict = await self.verdict(message)
            if verdict is not None:
                return verdict
        raise AssertionError(f"no verdict for {message.key}")

    async def verdict(self, message: Message) -> Verdict | None:
        decision = await read_decision(self.redis, self.streams, message.key)
        return None if decision is None else decision[1]

    async def actions(self) -> list[Action]:
        """Every action emitted so far on this platform's stream, oldest first."""
        here = self.streams.of(Tenant(platform=self.platform, workspace=self.workspace))
        entries = await self.redis.xrange(here.actions(self.platform))
        return [decode_action(i.decode(), f) for i, f in entries]


def rules_chat(
    *, redis: Redis, settings: Settings, policy: Policy, metrics: Metrics
) -> ChatHarness:
    """A chat judged by the rules alone (no model): for tests of where things are stored."""
    from bot.classifiers.rules_only import RulesOnlyClassifier

    return ChatHarness(
        redis=redis,
        settings=settings,
        policy=policy,
        classifier=RulesOnlyClassifier(),
        metrics=metrics,
    )
