"""FAQ matching speed for ``modtriage bench``: one question per call, as a worker asks."""

from __future__ import annotations

import asyncio
import time

import numpy as np

from bot.faq.entries import load_faqs
from bot.faq.trained import build_faq_matcher
from bot.policy import Policy
from bot.settings import Settings

__all__ = ["faq_benchmark"]


def faq_benchmark(settings: Settings, policy: Policy, *, questions: int = 200) -> dict[str, float]:
    """Milliseconds to match one question (embed it, score every entry, decide) with the
    matcher the FAQ stage uses for ``policy``'s FAQ file (the trained one when there is one),
    on ``settings.encoder_threads`` threads: ``faq_match_ms_p50``, ``faq_match_ms_p99``.
    Empty when the policy names no FAQ file.

    Raises:
        PolicyError: the FAQ file is invalid.
        ConfigError: no encoder can be built.
    """
    if policy.faq.file is None:
        return {}
    from bot.classifiers import build_faq_encoder

    faqs = load_faqs(policy.faq.file)
    matcher = build_faq_matcher(
        faqs=faqs,
        data_dir=settings.data_dir,
        encoder=lambda: build_faq_encoder(settings),
        thresholds=policy.faq,
        threads=settings.encoder_threads,
    )
    examples = [q for entry in faqs.faqs for q in entry.questions] or ["how do I start?"]
    # unique texts: the encoder remembers recent ones and would time its cache
    texts = [f"{examples[i % len(examples)]} ({i})" for i in range(questions)]

    async def run() -> list[float]:
        await matcher.match(texts[:4])  # warm-up, and the examples are embedded once
        times = []
        for text in texts[4:]:
            started = time.perf_counter()
            await matcher.match([text])
            times.append((time.perf_counter() - started) * 1000)
        return times

    times = np.asarray(asyncio.run(run()))
    return {
        "faq_match_ms_p50": round(float(np.percentile(times, 50)), 2),
        "faq_match_ms_p99": round(float(np.percentile(times, 99)), 2),
    }
