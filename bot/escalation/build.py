"""Building the escalate stage from settings and policy."""

from __future__ import annotations

import redis.asyncio as aioredis
import structlog

from bot.escalation.budget import SpendingBudget
from bot.escalation.cache import AnswerCache
from bot.escalation.context import ThreadContext
from bot.escalation.escalator import FrontierEscalator
from bot.escalation.pricing import Prices
from bot.escalation.record import EscalationStore
from bot.escalation.stage import EscalateStage
from bot.metrics import Metrics
from bot.policy import Policy
from bot.settings import Settings
from bot.streams import Streams

__all__ = ["build_escalate_stage", "build_escalator"]

log = structlog.get_logger(__name__)

#: Seconds added to the per-attempt timeouts for the SDK's backoff between retries.
_BACKOFF_ALLOWANCE_S = 30.0


def build_escalator(
    *, redis: aioredis.Redis, settings: Settings, policy: Policy, streams: Streams
) -> FrontierEscalator:
    """The escalator the settings describe. Without an API key it sends nothing and every
    escalated message goes to human review."""
    client = None
    key = settings.anthropic_api_key
    if key is not None and key.get_secret_value():
        from anthropic import AsyncAnthropic  # lazy: the SDK is only needed with a key

        client = AsyncAnthropic(
            api_key=key.get_secret_value(),
            base_url=settings.anthropic_base_url,
            max_retries=settings.frontier_max_retries,
            timeout=settings.frontier_timeout_s,
        )
    else:
        log.warning("escalation is enabled but no Anthropic API key is set: escalated "
                    "messages go to human review")  # fmt: skip
    deadline = settings.frontier_timeout_s * (settings.frontier_max_retries + 1)
    return FrontierEscalator(
        client=client,
        policy=policy,
        model=settings.frontier_model,
        prices=Prices.from_settings(settings),
        budget=SpendingBudget(
            redis=redis,
            streams=streams,
            model=settings.frontier_model,
            daily=settings.frontier_daily_budget,
            monthly=settings.frontier_monthly_budget,
        ),
        cache=AnswerCache(redis=redis, streams=streams, ttl_s=settings.frontier_cache_ttl_s),
        max_input_tokens=settings.frontier_max_input_tokens,
        max_output_tokens=settings.frontier_max_output_tokens,
        max_message_chars=settings.model_max_chars,
        deadline_s=deadline + _BACKOFF_ALLOWANCE_S,
    )


def build_escalate_stage(
    *,
    redis: aioredis.Redis,
    settings: Settings,
    policy: Policy,
    streams: Streams,
    metrics: Metrics | None = None,
) -> EscalateStage:
    return EscalateStage(
        escalator=build_escalator(redis=redis, settings=settings, policy=policy, streams=streams),
        context=ThreadContext(redis=redis, streams=streams),
        store=EscalationStore(redis=redis, streams=streams),
        policy=policy,
        metrics=metrics,
        concurrency=settings.frontier_concurrency,
    )
