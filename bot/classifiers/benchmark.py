"""Speed and memory of the embedded classifier, for ``modtriage bench --json``."""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Sequence
from pathlib import Path

from bot.classifiers.embedded import EmbeddedClassifier, find_heads
from bot.classifiers.heads import Heads
from bot.classifiers.onnx_encoder import OnnxEncoder
from bot.classifiers.training_rows import written_rows
from bot.policy import Policy
from bot.settings import Settings

__all__ = ["LONG_TOKENS", "classifier_benchmark", "long_posts"]


def _rss_mib() -> float:
    """Resident memory of this process now (Linux /proc), MiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


#: Tokens a long post has at least: the length of a forum post or a pasted paragraph.
LONG_TOKENS = 100


def long_posts(lines: Sequence[str], encoder: OnnxEncoder, *, count: int) -> list[str]:
    """``count`` posts of at least :data:`LONG_TOKENS` tokens, each chat lines run together
    (consecutive lines from a different start each time, numbered: no two are the same text,
    so the encoder's memory of recent texts never answers for the model)."""
    posts = []
    for start in range(count):
        parts: list[str] = [f"#{start}"]
        i = start
        while encoder.token_count(" ".join(parts)) < LONG_TOKENS:
            parts.append(lines[i % len(lines)])
            i += 1
        posts.append(" ".join(parts))
    return posts


def classifier_benchmark(
    settings: Settings,
    policy: Policy,
    *,
    messages: int = 512,
    single: int = 200,
    long: int = 96,
    repeats: int = 3,
) -> dict[str, float]:
    """Median of ``repeats`` runs: batched (``settings.batch_size`` per call) and one message
    per call, on ``settings.encoder_threads`` intra-op threads; encoder load time; this
    process's resident memory after the runs (an upper bound for a worker's).

    Keys: ``classifier_msgs_per_s_batched``, ``classifier_msgs_per_s_single``,
    ``encoder_load_s``, ``worker_rss_mib`` (wall clock), and the same two rates per CPU-second
    of this process, ``classifier_msgs_per_cpu_s_batched`` and ``..._single``, which say what
    one free core does when the machine is shared; ``classifier_msgs_per_s_long`` (batched)
    and ``..._long_single`` on ``long`` posts of 100+ tokens (:func:`long_posts`).
    """
    texts = [r.row.text for r in written_rows()]
    texts = (texts * (messages // len(texts) + 1))[:messages]
    loads = []
    for _ in range(max(repeats, 1)):
        started = time.perf_counter()
        encoder = OnnxEncoder(  # remember=0: time the model, not the cache of recent texts
            model_dir=settings.encoder_dir,
            threads=settings.encoder_threads,
            precision=settings.encoder_precision,
            remember=0,
        )
        loads.append(time.perf_counter() - started)
    heads = Heads.load(find_heads(policy, settings.data_dir, settings.heads))
    classifier = EmbeddedClassifier(encoder=encoder, heads=heads, policy=policy)

    async def batched() -> tuple[float, float]:
        wall, cpu = time.perf_counter(), time.process_time()
        for i in range(0, len(texts), settings.batch_size):
            await classifier.classify(texts[i : i + settings.batch_size])
        n = len(texts)
        return n / (time.perf_counter() - wall), n / (time.process_time() - cpu)

    async def one_by_one() -> tuple[float, float]:
        wall, cpu = time.perf_counter(), time.process_time()
        for text in texts[:single]:
            await classifier.classify([text])
        return single / (time.perf_counter() - wall), single / (time.process_time() - cpu)

    posts = long_posts(texts, encoder, count=long)

    async def long_rates() -> tuple[float, float]:
        wall = time.perf_counter()
        for i in range(0, len(posts), settings.batch_size):
            await classifier.classify(posts[i : i + settings.batch_size])
        batched_rate = len(posts) / (time.perf_counter() - wall)
        wall = time.perf_counter()
        for post in posts:
            await classifier.classify([post])
        return batched_rate, len(posts) / (time.perf_counter() - wall)

    async def run() -> tuple[
        list[tuple[float, float]], list[tuple[float, float]], list[tuple[float, float]]
    ]:
        await classifier.classify(texts[:8])  # warm-up
        return (
            [await batched() for _ in range(repeats)],
            [await one_by_one() for _ in range(repeats)],
            [await long_rates() for _ in range(repeats)],
        )

    batch_rates, single_rates, long_pairs = asyncio.run(run())
    return {
        "classifier_msgs_per_s_long": round(statistics.median(r[0] for r in long_pairs), 1),
        "classifier_msgs_per_s_long_single": round(statistics.median(r[1] for r in long_pairs), 1),
        "classifier_msgs_per_s_batched": round(statistics.median(r[0] for r in batch_rates), 1),
        "classifier_msgs_per_s_single": round(statistics.median(r[0] for r in single_rates), 1),
        # per CPU-second of this process: what one free core would do on a shared machine
        "classifier_msgs_per_cpu_s_batched": round(statistics.median(r[1] for r in batch_rates), 1),
        "classifier_msgs_per_cpu_s_single": round(statistics.median(r[1] for r in single_rates), 1),
        "encoder_load_s": round(statistics.median(loads), 3),
        "worker_rss_mib": round(_rss_mib(), 1),
    }
