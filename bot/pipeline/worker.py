"""A worker: reads the ingest stream with a consumer group, runs the stages, commits.

Delivery guarantees:
- An entry is acknowledged only in the same atomic script that stores its verdict and emits
  its actions, so a worker killed mid-batch leaves its entries pending, never half-done.
- Entries pending longer than ``claim_idle_ms`` are reclaimed (XAUTOCLAIM) by any worker.
- The decision hash (verdict and message) is written with HSETNX: if two workers ever
  process one message, only the first emits actions. Action ids derive from message and
  rule, so adapters can dedupe too.
- An entry delivered more than ``max_deliveries`` times, or one that cannot be decoded, goes to
  the dead-letter stream with its error. Nothing is dropped silently.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

import redis.asyncio as aioredis
import structlog
from redis.exceptions import RedisError

from bot.connection import ensure_group, run_until_stopped
from bot.errors import MalformedMessage
from bot.insights.drift import MIN_MESSAGES, DriftBook, DriftWatch
from bot.metrics import Metrics
from bot.pipeline.assessment import Assessment
from bot.pipeline.commit import Committer
from bot.pipeline.shared_gauges import SharedGauges
from bot.pipeline.tenant_judge import TenantJudge
from bot.streams import Streams, decode_message
from bot.tenant import Tenant
from bot.trim import read_backlog

__all__ = ["Worker", "WorkerConfig"]

log = structlog.get_logger(__name__)

Entry = tuple[str, dict[Any, Any]]


class WorkerConfig:
    """Tuning knobs, usually from :class:`~bot.settings.Settings`."""

    def __init__(
        self,
        *,
        batch_size: int = 32,
        block_ms: int = 200,
        claim_idle_ms: int = 30_000,
        max_deliveries: int = 5,
        stream_maxlen: int = 100_000,
        verdict_ttl_s: int = 30 * 86400,
        drift_min_messages: int = MIN_MESSAGES,
        drift_every_s: float = 60.0,
    ) -> None:
        self.batch_size = batch_size
        self.block_ms = block_ms
        self.claim_idle_ms = claim_idle_ms
        self.max_deliveries = max_deliveries
        self.stream_maxlen = stream_maxlen
        self.verdict_ttl_s = verdict_ttl_s
        self.drift_min_messages = drift_min_messages
        self.drift_every_s = drift_every_s


def _now() -> datetime:
    return datetime.now(UTC)


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class Worker:
    def __init__(
        self,
        *,
        redis: aioredis.Redis,
        streams: Streams,
        judge: TenantJudge,
        metrics: Metrics,
        consumer: str,
        config: WorkerConfig | None = None,
        clock: Callable[[], datetime] | None = None,
        gauges: SharedGauges | None = None,
    ) -> None:
        self._redis = redis
        self._gauges = gauges
        self._streams = streams
        self.judge = judge
        self._metrics = metrics
        self.consumer = consumer
        self._config = config or WorkerConfig()
        self._clock = clock or _now
        self._committer = Committer(
            redis=redis,
            streams=streams,
            group=streams.group,
            policy_for=judge.policy_for,
            clock=self._clock,
            stream_maxlen=self._config.stream_maxlen,
            verdict_ttl_s=self._config.verdict_ttl_s,
        )
        self._drift = DriftWatch(
            book=DriftBook(
                redis=redis, streams=streams, min_messages=self._config.drift_min_messages
            ),
            gauge=metrics.score_drift,
            every_s=self._config.drift_every_s,
            clock=self._clock,
        )
        self._errors_key = streams.errors
        self._last_claim = 0.0

    async def aclose(self) -> None:
        """Release what stages hold (the escalate stage's HTTP client). Call on shutdown."""
        await self.judge.aclose()

    async def ensure_group(self) -> None:
        """Create the consumer group (and the stream) if missing."""
        await ensure_group(self._redis, self._streams.ingest, self._streams.group)

    async def run(self, stop: asyncio.Event) -> None:
        """Process until ``stop`` is set, riding out Redis outages with backoff."""
        outages = self._metrics.failures.labels(kind="redis")
        try:
            await run_until_stopped(
                stop, setup=self.ensure_group, step=self.step, on_outage=outages.inc
            )
        finally:
            await self.aclose()

    async def step(self) -> int:
        """Read (or reclaim) one batch and process it. Returns how many entries it handled."""
        await self._drift.maybe_refresh()
        entries = await self._reclaim()
        if not entries:
            reply: Any = await self._redis.xreadgroup(
                self._streams.group,
                self.consumer,
                {self._streams.ingest: ">"},
                count=self._config.batch_size,
                block=self._config.block_ms,
            )
            entries = [(_text(i), f) for _, got in reply or [] for i, f in got]
        if entries:
            await self.process(entries)
        return len(entries)

    async def _reclaim(self) -> list[Entry]:
        now = time.monotonic()
        if (now - self._last_claim) * 1000 < min(self._config.claim_idle_ms, 1000):
            return []
        self._last_claim = now
        await self._observe_lag()
        reply = await self._redis.xautoclaim(
            self._streams.ingest,
            self._streams.group,
            self.consumer,
            min_idle_time=self._config.claim_idle_ms,
            start_id="0-0",
            count=self._config.batch_size,
        )
        claimed = [(_text(i), f) for i, f in reply[1] if f is not None]
        if not claimed:
            return []
        self._metrics.redelivered.inc(len(claimed))
        pending = await self._redis.xpending_range(
            self._streams.ingest,
            self._streams.group,
            min=claimed[0][0],
            max=claimed[-1][0],
            count=len(claimed) * 2,
            consumername=self.consumer,
        )
        deliveries = {_text(p["message_id"]): int(p["times_delivered"]) for p in pending}
        keep = []
        for entry_id, fields in claimed:
            times = deliveries.get(entry_id, 1)
            if times > self._config.max_deliveries:
                error = await self._redis.hget(self._errors_key, entry_id)
                reason = f"failed {times - 1} deliveries"
                if error:
                    reason += f": {_text(error)}"
                await self._dead_letter(entry_id, fields, reason, kind="retries")
            else:
                keep.append((entry_id, fields))
        log.info("reclaimed pending entries", count=len(claimed), kept=len(keep))
        return keep

    async def observe_drift(self) -> dict[str, float]:
        """Compare today's model scores with the days before, for every tenant this worker
        decided messages for, and set the drift gauge (done every ``drift_every_s`` by
        :meth:`step`); returns the highest PSI per category."""
        return await self._drift.refresh()

    async def _observe_lag(self) -> None:
        """Stream length, entries delivered but unacknowledged, and entries no worker has
        been given yet, for the lag gauges (``bot.trim``); the shared gauges every
        ``interval_s`` (review queues, frontier spending)."""
        backlog = await read_backlog(self._redis, self._streams.ingest)
        workers = backlog.group(self._streams.group)
        self._metrics.stream_length.set(backlog.length)
        self._metrics.stream_pending.set(workers.pending)
        self._metrics.stream_undelivered.set(workers.undelivered)
        if self._gauges is not None:
            await self._gauges.maybe_observe()

    async def _dead_letter(
        self, entry_id: str, fields: dict[Any, Any], reason: str, *, kind: str
    ) -> None:
        payload: dict[Any, Any] = {b"entry_id": entry_id, b"reason": reason, **fields}
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.xadd(
                self._streams.dead, payload, maxlen=self._config.stream_maxlen, approximate=True
            )
            pipe.xack(self._streams.ingest, self._streams.group, entry_id)
            pipe.hdel(self._errors_key, entry_id)
            await pipe.execute()
        self._metrics.dead_letters.labels(reason=kind).inc()
        log.error("dead-lettered entry", entry_id=entry_id, reason=reason)

    async def process(self, entries: Sequence[Entry]) -> None:
        batch: list[Assessment] = []
        for entry_id, fields in entries:
            try:
                message = decode_message(entry_id, fields)
            except MalformedMessage as exc:
                await self._dead_letter(entry_id, fields, exc.reason, kind="malformed")
                continue
            batch.append(Assessment(entry_id=entry_id, message=message))
        if not batch:
            return
        try:
            done = await self._run_stages(batch)
        except RedisError:
            raise
        except Exception as exc:  # noqa: BLE001 - isolate the failing message, lose nothing
            log.warning("batch failed, retrying one by one", error=repr(exc), size=len(batch))
            self._metrics.failures.labels(kind="batch").inc()
            done = []
            for item in batch:
                try:
                    done += await self._run_stages([item])
                except RedisError:
                    raise
                except Exception as item_exc:  # noqa: BLE001 - the entry stays pending
                    self._metrics.failures.labels(kind="message").inc()
                    await self._redis.hset(self._errors_key, item.entry_id, repr(item_exc)[:500])
                    log.warning(
                        "message failed, left pending",
                        entry_id=item.entry_id,
                        message_key=item.message.key,
                        error=repr(item_exc),
                    )
        await self._commit(done)

    async def _run_stages(self, batch: list[Assessment]) -> list[Assessment]:
        return await self.judge.assess(batch, timer=self._time_stage)

    def _time_stage(self, stage: str, seconds: float) -> None:
        self._metrics.stage_seconds.labels(stage=stage).observe(seconds)

    async def _commit(self, done: Sequence[Assessment]) -> None:
        """Verdict, case and actions of each entry in one atomic step (:mod:`.commit`)."""
        if not done:
            return
        if any(item.verdict is None for item in done):
            raise RuntimeError("no stage produced a verdict; is the decide stage missing?")
        fresh = await self._committer.commit(done)
        self._drift.saw(Tenant.of(item.message) for item in done)
        now = time.time()
        for item, new in zip(done, fresh, strict=True):
            self._record(item, fresh=new, now=now)

    def _record(self, item: Assessment, *, fresh: bool, now: float) -> None:
        message, verdict = item.message, item.verdict
        assert verdict is not None  # checked before commit
        if not fresh:
            log.info("duplicate delivery, verdict kept", message_key=message.key)
            return
        self._metrics.messages.labels(platform=message.platform).inc()
        self._metrics.decisions.labels(
            route=verdict.route.value, category=verdict.category or "", stage=verdict.stage
        ).inc()
        for action in item.actions:
            self._metrics.actions.labels(type=action.type).inc()
        ingest_ms = int(item.entry_id.split("-", 1)[0])
        self._metrics.ingest_to_decision.observe(max(0.0, now - ingest_ms / 1000))
        log.debug(
            "decided", message_key=message.key, route=verdict.route.value, category=verdict.category
        )
