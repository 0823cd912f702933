"""Benchmark: both CPU vLLM servers beside the in-process encoder, in the same run.

    make bench-vllm                     # or: .venv/bin/python -m tests.vllm.bench --json
    python -m tests.vllm.bench --requests 64 --concurrency 1 8
    # against servers already running (the GPU recipe in deploy/vllm/):
    python -m tests.vllm.bench --llm-url http://gpu:8000/v1 --llm-model qwen3-4b-instruct \
        --embeddings-url http://gpu:8001/v1 --concurrency 1 8 32 --requests 256

Requests/s and p50/p99 latency at each concurrency for (1) the tiny Llama answering under
structured outputs through VllmClassifier, (2) the fine-tuned encoder on /v1/embeddings through
VllmEncoder, (3) the in-process OnnxEncoder; with the ratio of (2) to (3). Uses the cached
vLLM venv (built on first use, ~1.5 min). CPU figures only; for a GPU see deploy/vllm/.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from bot.classifiers import OnnxEncoder, VllmClassifier, VllmEncoder
from bot.errors import ClassifierError
from bot.policy import load_policy
from tests.vllm.chat import lines
from tests.vllm.servers import (
    ROOT,
    TUNED_HF,
    VllmServer,
    build_tiny_llama,
    ensure_venv,
    llama_args,
    minilm_args,
    openai_client,
)


async def measure(
    call: Callable[[str], Awaitable[Any]], texts: list[str], concurrency: int
) -> dict[str, float]:
    """Send every text once, ``concurrency`` at a time; latency per request."""
    for text in texts[:4]:  # warm-up: grammar compile, first allocation
        with contextlib.suppress(ClassifierError):
            await call(text)
    latencies: list[float] = []
    queue = list(texts)

    errors: list[str] = []

    async def client() -> None:
        while queue:
            text = queue.pop()
            started = time.perf_counter()
            try:
                await call(text)
            except ClassifierError as exc:  # counted, not timed: a benchmark keeps going
                errors.append(type(exc).__name__)
                continue
            latencies.append(time.perf_counter() - started)

    started = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    ordered = sorted(latencies)
    return {
        "requests": len(ordered),
        "errors": len(errors),
        "rps": round(len(ordered) / elapsed, 1),
        "p50_ms": round(statistics.median(ordered) * 1000, 1),
        "p99_ms": round(ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))] * 1000, 1),
    }


async def compare(
    *,
    llm_url: str,
    llm_model: str,
    embeddings_url: str,
    requests: int,
    concurrencies: list[int],
) -> dict[str, Any]:
    """Measure the two servers at ``llm_url`` and ``embeddings_url`` beside the in-process
    encoder, at each concurrency."""
    policy = load_policy(ROOT / "bot" / "policies" / "default.yaml")
    texts = lines(requests)
    onnx = OnnxEncoder()  # int8, as the bot runs it
    classifier = VllmClassifier(
        client=openai_client(llm_url), model=llm_model, policy=policy,
        max_concurrency=max(concurrencies),
    )  # fmt: skip
    encoder = VllmEncoder(
        client=openai_client(embeddings_url), model="modtriage-minilm-l6-moderation"
    )
    results: dict[str, Any] = {}
    try:
        for concurrency in concurrencies:
            row = {
                "vllm_llm_structured": await measure(
                    lambda t: classifier.classify([t]), texts, concurrency
                ),
                "vllm_embeddings": await measure(lambda t: encoder.embed([t]), texts, concurrency),
                "onnx_in_process": await measure(lambda t: onnx.embed([t]), texts, concurrency),
            }
            row["embeddings_rps_ratio_vllm_over_onnx"] = round(
                row["vllm_embeddings"]["rps"] / row["onnx_in_process"]["rps"], 3
            )
            results[f"concurrency_{concurrency}"] = row
    finally:
        await classifier.aclose()
        await encoder.aclose()
    return results


async def run(requests: int, concurrencies: list[int]) -> dict[str, Any]:
    """Start both CPU servers (tiny Llama, MiniLM), measure, stop them."""
    python = ensure_venv()
    with tempfile.TemporaryDirectory(prefix="vllm-bench-") as tmp:
        home = Path(tmp)
        model = build_tiny_llama(python, home / "tiny-llama")
        llama = VllmServer(python=python, model=model, name="tiny-llama", home=home / "llama",
                           args=llama_args(), core=0)  # fmt: skip
        minilm = VllmServer(python=python, model=TUNED_HF, name="modtriage-minilm-l6-moderation",
                            home=home / "minilm", args=minilm_args(), core=1)  # fmt: skip
        try:
            llama.launch()
            minilm.launch()
            llama.wait_ready()
            minilm.wait_ready()
            results = await compare(
                llm_url=llama.base_url, llm_model="tiny-llama",
                embeddings_url=minilm.base_url, requests=requests, concurrencies=concurrencies,
            )  # fmt: skip
        finally:
            llama.stop()
            minilm.stop()
    return {
        "machine": "CPU: each vLLM server pinned to one core; onnxruntime with one thread",
        "llm": "tiny random Llama (2 layers, hidden 128), instruct prompt ~1k tokens, "
        "prefix caching, xgrammar structured outputs",
        "results": results,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=64)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 8])
    parser.add_argument("--json", action="store_true", help="print JSON only")
    parser.add_argument("--llm-url", help="a running server (e.g. on a GPU) instead of the CPU one")
    parser.add_argument("--llm-model", default="qwen3-4b-instruct")
    parser.add_argument("--embeddings-url")
    args = parser.parse_args()
    if args.llm_url and args.embeddings_url:
        report: dict[str, Any] = {
            "machine": "servers at the given URLs",
            "llm": args.llm_model,
            "results": asyncio.run(
                compare(llm_url=args.llm_url, llm_model=args.llm_model,
                        embeddings_url=args.embeddings_url, requests=args.requests,
                        concurrencies=args.concurrency)
            ),
        }  # fmt: skip
    else:
        report = asyncio.run(run(args.requests, args.concurrency))
    if args.json:
        print(json.dumps(report, indent=2))
        return
    for level, row in report["results"].items():
        print(level)
        for name, value in row.items():
            print(f"  {name}: {value}")


if __name__ == "__main__":
    main()
