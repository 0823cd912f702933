"""Production mode of ``modtriage run``: platform adapters plus an in-process worker.

Started when Slack or Discord tokens are set. Extra workers can run beside it
(``modtriage worker``) on the same Redis; they share the consumer group.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from datetime import UTC, datetime
from typing import Any

import redis.asyncio as aioredis
import structlog

from bot.classifiers import build_encoder
from bot.classifiers.base import Classifier
from bot.errors import ConfigError
from bot.health import Health
from bot.insights.backtest import Backtest
from bot.insights.summary_build import build_summariser
from bot.metrics import Metrics
from bot.pipeline.judge import Judge, build_judge
from bot.pipeline.language import LanguageDetector
from bot.policy import Policy
from bot.policy_book import PolicyBook
from bot.review.service import ModerationService
from bot.runtime import build_worker, faq_encoder
from bot.settings import Settings

__all__ = ["platforms", "serve"]

log = structlog.get_logger(__name__)


def platforms(settings: Settings) -> list[str]:
    """The platforms whose tokens are set."""
    found = []
    if settings.slack_bot_token is not None:
        found.append("slack")
    if settings.discord_token is not None:
        found.append("discord")
    return found


async def serve(
    *,
    settings: Settings,
    policy: Policy,
    classifier: Classifier,
    redis: aioredis.Redis,
    metrics: Metrics,
    stop: asyncio.Event,
    health: Health | None = None,
) -> None:
    """Run the adapters for every configured platform and one worker until ``stop``.

    Each adapter reports on ``health`` whether it is connected to its platform.

    Raises:
        ConfigError: no platform is configured, or a platform's settings are incomplete.
        PolicyError: the tenants file or a policy it names has a mistake.
    """
    names = platforms(settings)
    if not names:
        raise ConfigError("no platform token is set (MODTRIAGE_SLACK_BOT_TOKEN, _DISCORD_TOKEN)")
    streams = settings.streams()
    # Every tenant's policy, one book for the worker and the service; the files read now
    # become the current versions for every process.
    policies = PolicyBook.from_settings(redis=redis, settings=settings, default=policy)
    await policies.publish_files(by="start-up", at=datetime.now(UTC))
    # One escalate stage and one language model for the worker and moderators' `/mod ask`;
    # the worker closes the stage when it stops.
    escalation, languages = None, None
    if policy.escalation.enabled:
        from bot.escalation.build import build_escalate_stage

        escalation = build_escalate_stage(
            redis=redis, settings=settings, policy=policy, streams=streams, metrics=metrics
        )
        languages = LanguageDetector()

    encoder = faq_encoder(settings, classifier, policies.read)  # the worker's and previews'

    def preview(judged: Policy) -> Judge:  # `/mod test`, `/mod faq test` and `faq suggest`
        return build_judge(
            policy=judged, classifier=classifier, settings=settings, streams=streams,
            encoder=encoder, languages=languages,
        )  # fmt: skip

    summariser = build_summariser(settings, encoder=encoder or build_encoder(settings))
    moderation = ModerationService(
        redis=redis, streams=streams, policy=policy, policy_path=settings.policy,
        judges=preview, policies=policies, stream_maxlen=settings.stream_maxlen,
        escalation=escalation, drift_min_messages=settings.drift_min_messages,
        summariser=summariser, backtest=Backtest(settings=settings, classifier=classifier),
    )  # fmt: skip
    worker = build_worker(
        redis=redis, settings=settings, policy=policy, classifier=classifier, metrics=metrics,
        encoder=encoder, escalation=escalation, languages=languages, policies=policies,
    )  # fmt: skip
    jobs: list[Coroutine[Any, Any, None]] = [worker.run(stop)]
    if "slack" in names:
        from bot.adapters.slack import run_slack

        jobs.append(run_slack(settings, redis, moderation, stop, health=health))
    if "discord" in names:
        from bot.adapters.discord import run_discord

        jobs.append(run_discord(settings, redis, moderation, stop, policy=policy, health=health))
    tasks = [asyncio.create_task(job) for job in jobs]
    log.info("serving", platforms=names, classifier=classifier.name, consumer=worker.consumer)
    try:
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
        for task in done:
            task.result()  # an adapter that failed to start stops the whole process
    finally:
        stop.set()
        await asyncio.gather(*tasks, return_exceptions=True)
