"""``modtriage bench``: throughput and latency through real Redis with the active classifier."""

from __future__ import annotations

import asyncio
import json
import platform
import statistics
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry

from bot.classifiers import build_classifier
from bot.connection import Redis, connect
from bot.message import Author, Message
from bot.metrics import Metrics
from bot.pipeline.ingest import Ingest
from bot.policy import Policy
from bot.replay import drop_namespace
from bot.runtime import build_worker
from bot.settings import Settings
from bot.streams import Streams
from bot.verdict import Verdict

__all__ = ["run_bench"]

_EXAMPLE = Path(__file__).resolve().parent / "examples" / "conversation.jsonl"


def _corpus() -> list[str]:
    lines = _EXAMPLE.read_text(encoding="utf-8").splitlines()
    return [json.loads(line)["text"] for line in lines if line.strip()]


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def run_bench(*, settings: Settings, policy: Policy, messages: int) -> dict[str, Any]:
    """Publish ``messages`` messages, run one worker until all are decided, report rates."""
    run_id = f"bench-{int(time.time())}"
    settings = settings.model_copy(update={"namespace": f"{settings.namespace}-{run_id}"})
    streams = Streams(namespace=settings.namespace)
    classifier = build_classifier(settings, policy)
    texts = _corpus()
    start = datetime.now(UTC)
    batch = [
        Message(
            platform="console",
            workspace="bench",
            channel=f"c{i % 16}",
            id=f"{run_id}-{i}",
            author=Author(id=f"u{i % 997}"),
            text=f"{texts[i % len(texts)]} #{i}",  # unique: the encoder remembers repeats
            ts=start + timedelta(milliseconds=i),
        )
        for i in range(messages)
    ]
    async with connect(settings) as redis:
        worker = build_worker(
            redis=redis, settings=settings, policy=policy, classifier=classifier,
            metrics=Metrics(registry=CollectorRegistry()), consumer=run_id,
        )  # fmt: skip
        await worker.ensure_group()
        ingest = Ingest(redis=redis, streams=streams)
        stop = asyncio.Event()
        task = asyncio.create_task(worker.run(stop))
        try:
            # Throughput: a burst, published as fast as one client can, drained by one worker.
            began = time.perf_counter()
            await _publish(ingest, batch)
            await _decided(redis, streams, len(batch))
            rate = len(batch) / (time.perf_counter() - began)
            # Latency: messages arriving one by one at half that rate, so none waits in a queue.
            paced = batch[: min(len(batch), 200)]
            paced = [
                m.model_copy(update={"id": m.id + "-paced", "text": m.text + " again"})
                for m in paced
            ]
            published = await _publish(ingest, paced, every_s=2 / rate)
            decided = await _decided(redis, streams, len(batch) + len(paced))
        finally:
            stop.set()
            await task
            await drop_namespace(redis, streams)
    lat_ms = [max(0.0, (decided[key] - at) * 1000) for key, at in published.items()]
    return {
        "classifier": classifier.name,
        "messages": messages,
        "pipeline_msgs_per_s": round(rate, 1),
        "latency_ms": {
            "p50": round(statistics.median(lat_ms), 2),
            "p99": round(_percentile(lat_ms, 0.99), 2),
        },
        "latency_at_msgs_per_s": round(rate / 2, 1),
        "batch_size": settings.batch_size,
        "machine": f"{platform.machine()}, {_cpus()} CPUs, Python {platform.python_version()}",
    }


async def _publish(
    ingest: Ingest, messages: list[Message], *, every_s: float = 0.0
) -> dict[str, float]:
    """Publish; returns each message's ingest time (from its stream entry id)."""
    published = {}
    for message in messages:
        entry_id = await ingest.publish(message)
        assert entry_id is not None  # the benchmark's ingest serves every tenant
        published[message.key] = int(entry_id.split("-")[0]) / 1000
        if every_s:
            await asyncio.sleep(every_s)
    return published


async def _decided(redis: Redis, streams: Streams, count: int) -> dict[str, float]:
    """Wait until ``count`` verdicts exist; returns each one's decision time by message key."""
    decided: dict[str, float] = {}
    last = "0-0"
    while len(decided) < count:
        reply: Any = await redis.xread({streams.verdicts: last}, block=1000, count=500)
        for _, entries in reply or []:
            for entry, fields in entries:
                last = entry
                verdict = Verdict.model_validate_json(fields[b"verdict"])
                decided[verdict.message_key] = verdict.decided_at.timestamp()
    return decided


def _cpus() -> int:
    import os

    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
