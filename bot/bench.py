"""``modtriage bench``: throughput and latency through real Redis with the active classifier."""

from __future__ import annotations

import asyncio
import json
import os
import platform
import signal
import statistics
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry
from pydantic import BaseModel, ConfigDict

from bot.classifiers import build_classifier
from bot.connection import EmbeddedRedis, Redis, connect
from bot.message import Author, Message
from bot.metrics import Metrics
from bot.pipeline.ingest import Ingest
from bot.policy import Policy
from bot.replay import drop_namespace
from bot.runtime import build_worker
from bot.settings import Settings
from bot.streams import Streams, encode_message
from bot.supervisor import child_command, default_processes
from bot.verdict import Verdict

__all__ = ["run_bench"]

_EXAMPLE = Path(__file__).resolve().parent / "examples" / "conversation.jsonl"


def _corpus() -> list[str]:
    lines = _EXAMPLE.read_text(encoding="utf-8").splitlines()
    return [json.loads(line)["text"] for line in lines if line.strip()]


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def _messages(run_id: str, n: int, *, tag: str = "") -> list[Message]:
    texts = _corpus()
    start = datetime.now(UTC)
    return [
        Message(
            platform="console",
            workspace="bench",
            channel=f"c{i % 16}",
            id=f"{run_id}{tag}-{i}",
            author=Author(id=f"u{i % 997}"),
            text=f"{texts[i % len(texts)]} #{tag}{i}",  # unique: the encoder remembers repeats
            ts=start + timedelta(milliseconds=i),
        )
        for i in range(n)
    ]


async def _redis_usec(redis: Redis) -> float:
    """Redis CPU time spent in commands so far (INFO commandstats), microseconds."""
    stats: Any = await redis.info("commandstats")
    return float(sum(v["usec"] for k, v in stats.items() if k.startswith("cmdstat_")))


async def _redis_cpu_s(redis: Redis) -> float:
    """CPU seconds the Redis server has used so far (INFO cpu, user and system)."""
    info: Any = await redis.info("cpu")
    return float(info["used_cpu_user"]) + float(info["used_cpu_sys"])


async def run_bench(
    *,
    settings: Settings,
    policy: Policy,
    messages: int,
    processes: int | None = None,
    latency_s: float = 4.0,
) -> dict[str, Any]:
    """Publish ``messages`` messages, run one worker until all are decided, report rates; then
    the same burst through ``processes`` worker processes (default: one per CPU), and while
    they run, ``latency_s`` seconds of messages at half their rate (:func:`_open_loop`)."""
    run_id = f"bench-{int(time.time())}"
    settings = settings.model_copy(
        update={
            "namespace": f"{settings.namespace}-{run_id}",
            "partitions": 1,
            "worker_partitions": (),
        }
    )
    streams = settings.streams()
    classifier = build_classifier(settings, policy)
    batch = _messages(run_id, messages)
    workers = processes or default_processes()
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
            # Redis's own CPU time over it (publish, read, commit, ack) is the cost per message.
            usec, redis_cpu = await _redis_usec(redis), await _redis_cpu_s(redis)
            began, cpu = time.perf_counter(), time.process_time()
            await _burst(redis, streams, batch)
            await _verdicts(redis, streams, len(batch))
            rate = len(batch) / (time.perf_counter() - began)
            cpu = time.process_time() - cpu + await _redis_cpu_s(redis) - redis_cpu
            redis_us = (await _redis_usec(redis) - usec) / len(batch)
            # Latency: messages arriving one by one at half that rate, so none waits in a queue.
            paced = batch[: min(len(batch), 200)]
            paced = [
                m.model_copy(update={"id": m.id + "-paced", "text": m.text + " again"})
                for m in paced
            ]
            published = await _publish(ingest, paced, every_s=2 / rate)
            decided = await _decided(redis, streams, len(batch) + len(paced))
            stop.set()
            await task
            all_cores, latency = await _all_cores(
                redis, settings, streams, run_id, messages=messages, processes=workers,
                decided_before=len(batch) + len(paced), latency_s=latency_s,
            )  # fmt: skip
        finally:
            stop.set()
            await task
            await drop_namespace(redis, streams)
    lat_ms = [max(0.0, (decided[key] - at) * 1000) for key, at in published.items()]
    return {
        "classifier": classifier.name,
        "messages": messages,
        "pipeline_msgs_per_s": round(rate, 1),
        # per CPU-second of this process (the worker, its model thread, the publisher) and of
        # the Redis server: what one free core does when the machine is shared
        "pipeline_msgs_per_cpu_s": round(len(batch) / cpu, 1),
        "latency_ms": {
            "p50": round(statistics.median(lat_ms), 2),
            "p99": round(_percentile(lat_ms, 0.99), 2),
        },
        "latency_at_msgs_per_s": round(rate / 2, 1),
        "pipeline_msgs_per_s_all_cores": round(all_cores, 1),
        "workers": workers,
        "latency_ms_p50": latency.p50_ms,
        "latency_ms_p99": latency.p99_ms,
        "latency_rate_msgs_per_s": latency.rate,
        "latency_messages": latency.messages,
        "scaling_efficiency": round(all_cores / (workers * rate), 3),
        "redis_us_per_msg": round(redis_us, 1),
        "batch_size": settings.batch_size,
        "machine": f"{platform.machine()}, {default_processes()} CPUs, "
        f"Python {platform.python_version()}",
    }


async def _all_cores(
    redis: Redis,
    settings: Settings,
    streams: Streams,
    run_id: str,
    *,
    messages: int,
    processes: int,
    decided_before: int,
    latency_s: float,
) -> tuple[float, Latency]:
    """The same burst through ``modtriage worker --processes N`` (separate processes on this
    machine, as deployed), timed once all N are ready and warm; then the open-loop latency at
    half the rate it reached, through the same running processes."""
    url = settings.redis_url or EmbeddedRedis(data_dir=settings.data_dir).url
    env = {k: v for k, v in os.environ.items() if k != "MODTRIAGE_METRICS_PORT"} | {
        "REDIS_URL": url,
        "MODTRIAGE_NAMESPACE": settings.namespace,
        "MODTRIAGE_CLASSIFIER": settings.classifier,
        "MODTRIAGE_BATCH_SIZE": str(settings.batch_size),
        "MODTRIAGE_DATA_DIR": str(settings.data_dir),
    }
    log_path = settings.data_dir / f"{run_id}-workers.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    ingest = Ingest(redis=redis, streams=streams)
    with log_path.open("wb") as log:
        parent = await asyncio.create_subprocess_exec(
            *child_command(processes), env=env,
            stdout=asyncio.subprocess.DEVNULL, stderr=log,
        )  # fmt: skip
    try:
        async with asyncio.timeout(180):
            while log_path.read_text(errors="replace").count(" ready (classifier") < processes:
                if parent.returncode is not None:
                    raise RuntimeError(f"bench workers exited; see {log_path}")
                await asyncio.sleep(0.2)
        warm = _messages(run_id, processes * 16, tag="warm")
        await _burst(redis, streams, warm)
        total = decided_before + len(warm)
        await _verdicts(redis, streams, total)
        burst = _messages(run_id, messages, tag="all")
        began = time.perf_counter()
        await _burst(redis, streams, burst)
        await _verdicts(redis, streams, total + len(burst))
        rate = len(burst) / (time.perf_counter() - began)
        latency = await _open_loop(redis, ingest, streams, run_id, rate=rate / 2, seconds=latency_s)
        return rate, latency
    finally:
        parent.send_signal(signal.SIGTERM)
        async with asyncio.timeout(60):
            await parent.wait()


class Latency(BaseModel):
    """Ingest to committed verdict, per message, at a fixed arrival rate."""

    model_config = ConfigDict(frozen=True)

    p50_ms: float
    p99_ms: float
    rate: float  # messages a second, as offered
    messages: int


def _stream_ms(entry_id: bytes | str) -> int:
    """The Redis server's clock (ms) when a stream entry was added."""
    return int(_text(entry_id).split("-", 1)[0])


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


async def _open_loop(
    redis: Redis, ingest: Ingest, streams: Streams, run_id: str, *, rate: float, seconds: float
) -> Latency:
    """Messages offered at ``rate`` a second for ``seconds`` (at least 50), each at its own
    time whatever the workers do (open loop: a slow answer never delays the next arrival),
    into the workers already running. Each is timed from its ingest entry to its entry on the
    verdicts stream, both stamped by the Redis server's clock (1 ms resolution), so neither
    the publisher's nor a worker's clock enters the figure.

    Raises:
        RuntimeError: not every message was decided within a minute of the last arrival.
    """
    batch = _messages(run_id, max(50, round(rate * seconds)), tag="lat")
    last: Any = await redis.xrevrange(streams.verdicts, count=1)
    mark = _text(last[0][0]) if last else "0-0"
    before = int(await redis.xlen(streams.verdicts))
    loop = asyncio.get_running_loop()
    began = loop.time()
    sent = []
    for i, message in enumerate(batch):
        delay = began + i / rate - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        sent.append(asyncio.create_task(ingest.publish(message)))
    ingested = {}
    for message, task in zip(batch, sent, strict=True):
        entry_id = await task
        assert entry_id is not None  # the benchmark's ingest serves every tenant
        ingested[message.key] = _stream_ms(entry_id)
    try:
        async with asyncio.timeout(60):
            await _verdicts(redis, streams, before + len(batch))
    except TimeoutError as exc:
        raise RuntimeError("the workers did not decide every timed message in 60 s") from exc
    lat_ms: list[float] = []
    start = f"({mark}"
    while True:
        entries: Any = await redis.xrange(streams.verdicts, min=start, count=1000)
        if not entries:
            break
        for entry_id, fields in entries:
            key = json.loads(fields[b"verdict"])["message_key"]
            if key in ingested:
                lat_ms.append(float(_stream_ms(entry_id) - ingested[key]))
        start = "(" + _text(entries[-1][0])
    if len(lat_ms) != len(batch):
        raise RuntimeError(f"{len(batch) - len(lat_ms)} of {len(batch)} messages not decided")
    return Latency(
        p50_ms=round(statistics.median(lat_ms), 2),
        p99_ms=round(_percentile(lat_ms, 0.99), 2),
        rate=round(rate, 1),
        messages=len(batch),
    )


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


async def _burst(redis: Redis, streams: Streams, messages: list[Message]) -> None:
    """Publish as fast as one client can: XADDs pipelined, a hundred a round trip, so the
    publisher takes little of the CPU the worker it feeds runs on."""
    for i in range(0, len(messages), 100):
        async with redis.pipeline(transaction=False) as pipe:
            for message in messages[i : i + 100]:
                pipe.xadd(streams.ingest, encode_message(message))  # type: ignore[arg-type]
            await pipe.execute()


async def _verdicts(redis: Redis, streams: Streams, count: int) -> None:
    """Wait until the verdicts stream holds ``count`` entries (its length: nothing parsed)."""
    while True:
        if int(await redis.xlen(streams.verdicts)) >= count:
            return
        await asyncio.sleep(0.01)


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
