"""Run a conversation through the whole pipeline in one process and show each decision.

Used by ``modtriage run`` without platform tokens: the messages go through the real ingest
stream, a real worker and the console adapter's action stream, on real (embedded) Redis.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Callable, Iterable
from typing import Any

import redis.asyncio as aioredis

from bot.adapters.console import ConsoleAdapter, describe_verdict
from bot.adapters.dispatch import ActionDispatcher
from bot.classifiers.base import Classifier
from bot.message import Message
from bot.metrics import Metrics
from bot.pipeline.ingest import Ingest
from bot.policy import Policy
from bot.runtime import build_worker
from bot.settings import Settings
from bot.streams import Streams
from bot.verdict import Verdict

__all__ = ["Replay", "drop_namespace"]


async def drop_namespace(redis: aioredis.Redis, streams: Streams) -> int:
    """Delete every key of a namespace (used for throw-away demo and bench namespaces)."""
    removed = 0
    async for key in redis.scan_iter(match=f"{streams.prefix}:*", count=500):
        removed += await redis.unlink(key)
    return removed


class Replay:
    """One worker and one console dispatcher in this process, on a throw-away namespace."""

    def __init__(
        self,
        *,
        redis: aioredis.Redis,
        settings: Settings,
        policy: Policy,
        classifier: Classifier,
        metrics: Metrics,
    ) -> None:
        self.run_id = uuid.uuid4().hex[:8]
        self.settings = settings.model_copy(
            update={"namespace": f"{settings.namespace}-run-{self.run_id}"}
        )
        self.streams = Streams(namespace=self.settings.namespace)
        self._redis = redis
        self.adapter = ConsoleAdapter()
        self._ingest = Ingest(redis=redis, streams=self.streams)
        self._worker = build_worker(
            redis=redis, settings=self.settings, policy=policy, classifier=classifier,
            metrics=metrics, consumer=f"replay-{self.run_id}",
        )  # fmt: skip
        self._dispatcher = ActionDispatcher(
            redis=redis, streams=self.streams, adapter=self.adapter,
            consumer=f"console-{self.run_id}", block_ms=50,
        )  # fmt: skip

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        stop = asyncio.Event()
        await self._worker.ensure_group()
        tasks = [
            asyncio.create_task(self._worker.run(stop)),
            asyncio.create_task(self._dispatcher.run(stop)),
        ]
        try:
            yield
        finally:
            stop.set()
            await asyncio.gather(*tasks, return_exceptions=True)
            await drop_namespace(self._redis, self.streams)

    async def publish(self, messages: Iterable[Message]) -> int:
        count = 0
        for message in messages:
            await self._ingest.publish(message)
            count += 1
        return count

    async def decisions(self, expected: int) -> AsyncIterator[tuple[Message, Verdict, list[str]]]:
        """Yield each decision with the actions the console adapter performed for it."""
        last = "0-0"
        seen = 0
        while seen < expected:
            reply: Any = await self._redis.xread({self.streams.verdicts: last}, block=1000)
            for _, entries in reply or []:
                for entry_id, fields in entries:
                    last = entry_id
                    verdict = Verdict.model_validate_json(fields[b"verdict"])
                    message = Message.model_validate_json(fields[b"message"])
                    async with asyncio.timeout(10):
                        await self.adapter.wait_for(verdict.action_ids)
                    seen += 1
                    yield message, verdict, self.adapter.performed.get(message.key, [])

    async def show(self, messages: Iterable[Message], echo: Callable[[str], None]) -> int:
        count = await self.publish(messages)
        async for message, verdict, actions in self.decisions(count):
            echo(describe_verdict(message, verdict, actions))
        return count
