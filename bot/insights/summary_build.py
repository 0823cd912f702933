"""The summariser the settings name, for ``/mod summary``."""

from __future__ import annotations

from bot.classifiers.encoder import Encoder
from bot.insights.summary import ExtractiveSummariser, Summariser
from bot.settings import Settings

__all__ = ["build_summariser"]


def build_summariser(settings: Settings, *, encoder: Encoder) -> Summariser:
    """Extractive on ``encoder`` (``summary_backend=embedded``), or the vLLM instruct model at
    ``vllm_url`` with the extractive summary as its facts and fallback (``vllm``)."""
    extractive = ExtractiveSummariser(encoder=encoder)
    if settings.summary_backend != "vllm":
        return extractive
    from openai import AsyncOpenAI  # lazy: only the vLLM path needs the SDK loaded

    from bot.classifiers.breaker import CircuitBreaker
    from bot.classifiers.retry import RetryPolicy
    from bot.insights.summary_vllm import VllmSummariser

    key = settings.vllm_api_key.get_secret_value() if settings.vllm_api_key else "EMPTY"
    client = AsyncOpenAI(
        base_url=settings.vllm_url, api_key=key, max_retries=0, timeout=settings.summary_timeout_s
    )
    return VllmSummariser(
        client=client,
        model=settings.vllm_model,
        extractive=extractive,
        retry=RetryPolicy(attempts=settings.vllm_retries + 1),
        breaker=CircuitBreaker(
            failures=settings.vllm_breaker_failures, reset_after_s=settings.vllm_breaker_reset_s
        ),
    )
