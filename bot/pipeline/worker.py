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

With several partitions (:mod:`bot.keys`) a worker reads each of its partitions' ingest
streams in turn, one XREADGROUP each (a cluster forbids one read across slots): first without
blocking, and when all were empty, blocking ``block_ms / n`` on each. A batch holds one
partition's entries and is committed with that partition's keys, so every script stays in one
slot. Each partition is reclaimed on its own.
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
from bot.partitions import check_layout
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


class _Part:
    """One partition a worker reads: its names, its committer, when it was last reclaimed."""

    def __init__(self, *, streams: Streams, committer: Committer) -> None:
        self.streams = streams
        self.committer = committer
        self.last_claim = 0.0


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
        partitions: Sequence[int] | None = None,
    ) -> None:
        """``partitions``: the ones this worker reads (default: all of ``streams``')."""
        self._redis = redis
        self._gauges = gauges
        self._streams = streams
        self.judge = judge
        self._metrics = metrics
        self.consumer = consumer
        self._config = config or WorkerConfig()
        self._clock = clock or _now
        chosen = range(streams.partitions) if partitions is None else partitions
        self._parts = [
            _Part(
                streams=streams.part(k),
                committer=Committer(
                    redis=redis,
                    streams=streams.part(k),
                    group=streams.group,
                    policy_for=judge.policy_for,
                    clock=self._clock,
                    stream_maxlen=self._config.stream_maxlen,
                    verdict_ttl_s=self._config.verdict_ttl_s,
                ),
            )
            for k in dict.fromkeys(chosen)
        ]
        if not self._parts:
            raise ValueError("a worker needs at least one partition to read")
        self._turn = 0
        self._last_lag = 0.0
        self._drift = DriftWatch(
            book=DriftBook(
                redis=redis, streams=streams, min_messages=self._config.drift_min_messages
            ),
            gauge=metrics.score_drift,
            every_s=self._config.drift_every_s,
            clock=self._clock,
        )

    async def aclose(self) -> None:
        """Release what stages hold (the escalate stage's HTTP client). Call on shutdown."""
        await self.judge.aclose()

    @property
    def partitions(self) -> list[int]:
        """The partitions this worker reads."""
        return [p.streams.partition or 0 for p in self._parts]

    def reclaim_soon(self) -> None:
        """Look for entries to reclaim (and refresh the lag gauges) on the next step, not
        only once a second."""
        for part in self._parts:
            part.last_claim = 0.0
        self._last_lag = 0.0

    async def ensure_group(self) -> None:
        """Check the partition count is the namespace's (:mod:`bot.partitions`), then create
        the consumer group (and the stream) of each partition read, if missing.

        Raises:
            ConfigError: the streams were written with another partition count.
        """
        await check_layout(self._redis, self._streams)
        for part in self._parts:
            await ensure_group(self._redis, part.streams.ingest, part.streams.group)

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
        """Read (or reclaim) one batch of one partition and process it. Returns how many
        entries it handled."""
        await self._drift.maybe_refresh()
        await self._maybe_observe_lag()
        parts = self._parts[self._turn :] + self._parts[: self._turn]
        self._turn = (self._turn + 1) % len(self._parts)
        for part in parts:
            entries = await self._reclaim(part)
            if entries:
                await self.process(entries, part=part)
                return len(entries)
        blocks: list[int | None] = (
            [self._config.block_ms]
            if len(parts) == 1
            else [None, max(1, self._config.block_ms // len(parts))]
        )
        for block in blocks:
            for part in parts:
                entries = await self._read(part, block)
                if entries:
                    await self.process(entries, part=part)
                    return len(entries)
        return 0

    async def _read(self, part: _Part, block: int | None) -> list[Entry]:
        reply: Any = await self._redis.xreadgroup(
            part.streams.group,
            self.consumer,
            {part.streams.ingest: ">"},
            count=self._config.batch_size,
            block=block,
        )
        return [(_text(i), f) for _, got in reply or [] for i, f in got]

    async def _reclaim(self, part: _Part) -> list[Entry]:
        now = time.monotonic()
        if (now - part.last_claim) * 1000 < min(self._config.claim_idle_ms, 1000):
            return []
        part.last_claim = now
        ingest, group = part.streams.ingest, part.streams.group
        reply = await self._redis.xautoclaim(
            ingest,
            group,
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
            ingest,
            group,
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
                error = await self._redis.hget(part.streams.errors, entry_id)
                reason = f"failed {times - 1} deliveries"
                if error:
                    reason += f": {_text(error)}"
                await self._dead_letter(part, entry_id, fields, reason, kind="retries")
            else:
                keep.append((entry_id, fields))
        log.info("reclaimed pending entries", count=len(claimed), kept=len(keep))
        return keep

    async def observe_drift(self) -> dict[str, float]:
        """Compare today's model scores with the days before, for every tenant this worker
        decided messages for, and set the drift gauge (done every ``drift_every_s`` by
        :meth:`step`); returns the highest PSI per category."""
        return await self._drift.refresh()

    async def _maybe_observe_lag(self) -> None:
        """Stream length, entries delivered but unacknowledged, and entries no worker has
        been given yet, summed over the partitions read, for the lag gauges (``bot.trim``),
        at most once a second; the shared gauges every ``interval_s`` (review queues,
        frontier spending)."""
        now = time.monotonic()
        if (now - self._last_lag) * 1000 < min(self._config.claim_idle_ms, 1000):
            return
        self._last_lag = now
        length = pending = undelivered = 0
        for part in self._parts:
            backlog = await read_backlog(self._redis, part.streams.ingest)
            workers = backlog.group(part.streams.group)
            length += backlog.length
            pending += workers.pending
            undelivered += workers.undelivered
        self._metrics.stream_length.set(length)
        self._metrics.stream_pending.set(pending)
        self._metrics.stream_undelivered.set(undelivered)
        if self._gauges is not None:
            await self._gauges.maybe_observe()

    async def _dead_letter(
        self, part: _Part, entry_id: str, fields: dict[Any, Any], reason: str, *, kind: str
    ) -> None:
        names = part.streams
        payload: dict[Any, Any] = {b"entry_id": entry_id, b"reason": reason, **fields}
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.xadd(names.dead, payload, maxlen=self._config.stream_maxlen, approximate=True)
            pipe.xack(names.ingest, names.group, entry_id)
            pipe.hdel(names.errors, entry_id)
            await pipe.execute()
        self._metrics.dead_letters.labels(reason=kind).inc()
        log.error("dead-lettered entry", entry_id=entry_id, reason=reason)

    async def process(self, entries: Sequence[Entry], *, part: _Part | None = None) -> None:
        """Decide entries of one partition's ingest stream (the first read, by default)."""
        part = part or self._parts[0]
        batch: list[Assessment] = []
        for entry_id, fields in entries:
            try:
                message = decode_message(entry_id, fields)
            except MalformedMessage as exc:
                await self._dead_letter(part, entry_id, fields, exc.reason, kind="malformed")
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
                    await self._redis.hset(part.streams.errors, item.entry_id, repr(item_exc)[:500])
                    log.warning(
                        "message failed, left pending",
                        entry_id=item.entry_id,
                        message_key=item.message.key,
                        error=repr(item_exc),
                    )
        await self._commit(part, done)

    async def _run_stages(self, batch: list[Assessment]) -> list[Assessment]:
        return await self.judge.assess(batch, timer=self._time_stage)

    def _time_stage(self, stage: str, seconds: float) -> None:
        self._metrics.stage_seconds.labels(stage=stage).observe(seconds)

    async def _commit(self, part: _Part, done: Sequence[Assessment]) -> None:
        """Verdict, case and actions of each entry in one atomic step (:mod:`.commit`)."""
        if not done:
            return
        if any(item.verdict is None for item in done):
            raise RuntimeError("no stage produced a verdict; is the decide stage missing?")
        fresh = await part.committer.commit(done)
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
