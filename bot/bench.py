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
from bot.connection import connect
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

_EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "conversation.jsonl"


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
            text=texts[i % len(texts)],
            ts=start + timedelta(milliseconds=i),
        )
        for i in range(messages)
    ]
    published: dict[str, float] = {}
    decided: dict[str, float] = {}
    async with connect(settings) as redis:
        worker = build_worker(
            redis=redis, settings=settings, policy=policy, classifier=classifier,
            metrics=Metrics(registry=CollectorRegistry()), consumer=run_id,
        )  # fmt: skip
        await worker.ensure_group()
        ingest = Ingest(redis=redis, streams=streams)
        try:
            stop = asyncio.Event()
            task = asyncio.create_task(worker.run(stop))
            began = time.perf_counter()
            for message in batch:
                entry_id = await ingest.publish(message)
                published[message.key] = int(entry_id.split("-")[0]) / 1000
            last = "0-0"
            while len(decided) < messages:
                reply: Any = await redis.xread({streams.verdicts: last}, block=1000, count=500)
                for _, entries in reply or []:
                    for entry, fields in entries:
                        last = entry
                        verdict = Verdict.model_validate_json(fields[b"verdict"])
                        decided[verdict.message_key] = verdict.decided_at.timestamp()
            elapsed = time.perf_counter() - began
            stop.set()
            await task
        finally:
            await drop_namespace(redis, streams)
    lat_ms = [max(0.0, (decided[key] - at) * 1000) for key, at in published.items()]
    return {
        "classifier": classifier.name,
        "messages": messages,
        "pipeline_msgs_per_s": round(messages / elapsed, 1),
        "latency_ms": {
            "p50": round(statistics.median(lat_ms), 2),
            "p99": round(_percentile(lat_ms, 0.99), 2),
        },
        "batch_size": settings.batch_size,
        "machine": f"{platform.machine()}, {_cpus()} CPUs, Python {platform.python_version()}",
    }


def _cpus() -> int:
    import os

    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
