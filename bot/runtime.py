"""Wiring: builds the worker and its judge from settings, policy and a classifier."""

from __future__ import annotations

import os
import socket
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import TYPE_CHECKING

import redis.asyncio as aioredis

from bot.classifiers.base import Classifier
from bot.classifiers.encoder import Encoder
from bot.escalation.budget import SpendingBudget
from bot.metrics import Metrics
from bot.pipeline.judge import Judge, build_judge
from bot.pipeline.language import LanguageDetector
from bot.pipeline.shared_gauges import SharedGauges
from bot.pipeline.tenant_judge import TenantJudge
from bot.pipeline.worker import Worker, WorkerConfig
from bot.policy import Policy
from bot.policy_book import PolicyBook
from bot.settings import Settings

if TYPE_CHECKING:
    from bot.escalation.stage import EscalateStage

__all__ = ["build_worker", "consumer_name", "faq_encoder"]


def consumer_name(role: str = "worker", *, pid: int | None = None) -> str:
    """Unique per process, stable for its life: host and pid (``pid``: another process's on
    this host, this one's by default)."""
    return f"{role}-{socket.gethostname()}-{os.getpid() if pid is None else pid}"


def faq_encoder(
    settings: Settings, classifier: Classifier, policies: Iterable[Policy]
) -> Encoder | None:
    """The encoder a process's FAQ stages share, when a policy it read answers FAQs (else
    None: a judge built later for a policy with a FAQ file builds its own).

    Raises:
        ConfigError: no encoder can be built.
    """
    if not any(p.faq.file is not None for p in policies):
        return None
    from bot.classifiers import EmbeddedClassifier, build_faq_encoder

    fallback = classifier.encoder if isinstance(classifier, EmbeddedClassifier) else None
    return build_faq_encoder(settings, fallback=fallback)


def build_worker(
    *,
    redis: aioredis.Redis,
    settings: Settings,
    policy: Policy,
    classifier: Classifier,
    metrics: Metrics,
    consumer: str | None = None,
    encoder: Encoder | None = None,
    escalation: EscalateStage | None = None,
    languages: LanguageDetector | None = None,
    policies: PolicyBook | None = None,
    clock: Callable[[], datetime] | None = None,
) -> Worker:
    """A worker judging each tenant's messages under its current policy
    (:class:`~bot.pipeline.tenant_judge.TenantJudge` over
    :func:`~bot.pipeline.judge.build_judge`); it closes the judges' stages when it stops.

    ``policies`` when the process already holds the book, else it is read from the settings
    (``policy`` the default). ``clock`` dates the cases it opens (tests pass their own).

    Raises:
        PolicyError: the tenants file or a policy it names has a mistake.
    """
    streams = settings.streams()
    if policies is None:
        policies = PolicyBook.from_settings(redis=redis, settings=settings, default=policy)
    # one FAQ encoder for every policy version this worker judges with, not one per version
    encoder = encoder or faq_encoder(settings, classifier, policies.read)

    def judge_of(version: Policy) -> Judge:
        return build_judge(
            redis=redis,
            settings=settings,
            policy=version,
            classifier=classifier,
            streams=streams,
            encoder=encoder,
            metrics=metrics,
            escalation=escalation,
            languages=languages,
        )

    judge = TenantJudge(policies=policies, build=judge_of)
    for read in policies.read:  # a policy's FAQ file is read now: a mistake stops start-up
        judge.judge_of(read)
    return Worker(
        redis=redis,
        streams=streams,
        judge=judge,
        metrics=metrics,
        consumer=consumer or consumer_name(),
        config=WorkerConfig(
            batch_size=settings.batch_size,
            block_ms=settings.block_ms,
            claim_idle_ms=settings.claim_idle_ms,
            max_deliveries=settings.max_deliveries,
            stream_maxlen=settings.stream_maxlen,
            drift_min_messages=settings.drift_min_messages,
        ),
        clock=clock,
        partitions=settings.worker_partitions or None,
        gauges=SharedGauges(
            redis=redis,
            streams=streams,
            metrics=metrics,
            budget=SpendingBudget(
                redis=redis,
                streams=streams,
                model=settings.frontier_model,
                daily=settings.frontier_daily_budget,
                monthly=settings.frontier_monthly_budget,
            ),
        ),
    )
