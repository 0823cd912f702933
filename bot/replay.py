"""Run a conversation through the whole pipeline in one process and show each decision.

Used by ``modtriage run`` without platform tokens: the messages go through the real ingest
stream, a real worker, the console adapter's action stream and the moderation service, on real
(embedded) Redis. Message ids carry a run id, so runs never collide, and the cases they open
stay for ``modtriage queue`` and ``modtriage case show`` to look at.
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
from bot.pipeline.judge import build_judge
from bot.policy import Policy
from bot.review.service import ModerationService
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
    """One worker, one console dispatcher and the moderation service in this process."""

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
        self.model = classifier.name  # named once, in the banner: verdict lines leave it out
        # One partition: the run's messages, verdicts and actions on one stream each, read in
        # order (a deployment's partitions are for its workers, not for this one process).
        settings = settings.model_copy(update={"partitions": 1, "worker_partitions": ()})
        self.settings = settings
        self.streams = settings.streams()
        self._redis = redis
        self.adapter = ConsoleAdapter()
        self._ingest = Ingest(redis=redis, streams=self.streams, maxlen=settings.stream_maxlen)
        self._worker = build_worker(
            redis=redis, settings=self.settings, policy=policy, classifier=classifier,
            metrics=metrics, consumer=f"replay-{self.run_id}",
        )  # fmt: skip
        self.moderation = ModerationService(
            redis=redis, streams=self.streams, policy=policy, policy_path=settings.policy,
            policies=self._worker.judge.policies,
            judges=lambda judged: build_judge(
                policy=judged, classifier=classifier, settings=settings, streams=self.streams
            ),
            stream_maxlen=settings.stream_maxlen,
        )  # fmt: skip
        self._dispatcher = ActionDispatcher(
            redis=redis, streams=self.streams, adapter=self.adapter,
            consumer=f"console-{self.run_id}", block_ms=50, moderation=self.moderation,
            maxlen=settings.stream_maxlen,
        )  # fmt: skip
        self._keys: set[str] = set()

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

    async def publish(self, messages: Iterable[Message]) -> int:
        count = 0
        for message in messages:
            self._keys.add(message.key)
            await self._ingest.publish(message)
            count += 1
        return count

    async def _settled(self) -> None:
        """Until the console dispatcher has performed everything emitted so far (strike
        sanctions that a case adds included)."""
        stream = self.streams.actions(self.adapter.platform)
        while True:
            info: Any = await self._redis.xinfo_stream(stream)
            groups: Any = await self._redis.xinfo_groups(stream)
            last = info["last-generated-id"]
            if all(g["pending"] == 0 and g["last-delivered-id"] == last for g in groups):
                return
            await asyncio.sleep(0.01)

    async def mark(self) -> str:
        """The verdict stream's current end: decisions after it are this run's."""
        newest: Any = await self._redis.xrevrange(self.streams.verdicts, count=1)
        return str(newest[0][0].decode()) if newest else "0-0"

    async def decisions(
        self, expected: int, *, after: str
    ) -> AsyncIterator[tuple[Message, Verdict, list[str]]]:
        """Yield each decision with the actions the console adapter performed for it."""
        last = after
        seen = 0
        while seen < expected:
            reply: Any = await self._redis.xread({self.streams.verdicts: last}, block=1000)
            for _, entries in reply or []:
                for entry_id, fields in entries:
                    last = entry_id
                    verdict = Verdict.model_validate_json(fields[b"verdict"])
                    message = Message.model_validate_json(fields[b"message"])
                    if message.key not in self._keys:
                        continue  # another process's message in a shared namespace
                    async with asyncio.timeout(10):
                        await self.adapter.wait_for(await self._emitted(verdict))
                        await self._settled()
                    seen += 1
                    yield message, verdict, self.adapter.performed.get(message.key, [])

    async def _emitted(self, verdict: Verdict) -> tuple[str, ...]:
        """The verdict's actions less the warnings its incident already had (held back by
        the worker's commit, ``held:<id>`` on the decision)."""
        if not verdict.action_ids:
            return ()
        key = self.streams.verdict_key(verdict.message_key)
        held = await self._redis.hmget(key, [f"held:{i}" for i in verdict.action_ids])
        return tuple(i for i, h in zip(verdict.action_ids, held, strict=True) if h is None)

    async def show_each(self, messages: AsyncIterator[Message], echo: Callable[[str], None]) -> int:
        """Each message's decision as soon as it is made, before the next message is read
        (lines typed at the console)."""
        count = 0
        async for message in messages:
            count += await self.show([message], echo)
        return count

    async def show(self, messages: Iterable[Message], echo: Callable[[str], None]) -> int:
        after = await self.mark()
        count = await self.publish(messages)
        async for message, verdict, actions in self.decisions(count, after=after):
            echo(describe_verdict(message, verdict, actions, model=self.model))
        return count
