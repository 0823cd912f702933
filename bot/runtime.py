"""Wiring: builds the worker and its stages from settings, policy and a classifier."""

from __future__ import annotations

import os
import socket
from typing import TYPE_CHECKING

import redis.asyncio as aioredis

from bot.classifiers.base import Classifier
from bot.classifiers.encoder import Encoder
from bot.metrics import Metrics
from bot.pipeline.classify import ClassifyStage
from bot.pipeline.decide import DecideStage
from bot.pipeline.language import LanguageDetector
from bot.pipeline.rules import RulesStage
from bot.pipeline.stage import Stage
from bot.pipeline.worker import Worker, WorkerConfig
from bot.policy import Policy
from bot.settings import Settings
from bot.streams import Streams

if TYPE_CHECKING:
    from bot.escalation.stage import EscalateStage

__all__ = ["build_stages", "build_worker", "consumer_name"]


def consumer_name(role: str = "worker") -> str:
    """Unique per process, stable for its life: host and pid."""
    return f"{role}-{socket.gethostname()}-{os.getpid()}"


def build_stages(
    *,
    redis: aioredis.Redis,
    settings: Settings,
    policy: Policy,
    classifier: Classifier,
    streams: Streams,
    encoder: Encoder | None = None,
    metrics: Metrics | None = None,
    escalation: EscalateStage | None = None,
    languages: LanguageDetector | None = None,
) -> list[Stage]:
    """The stages in order. With ``escalation.enabled`` in the policy, the escalate stage runs
    after decide (``escalation`` and ``languages`` when the caller already holds them, so a
    process that also answers ``/mod ask`` has one of each). With ``faq.file``, FAQ answers
    run after that, on ``encoder`` (the classifier's, so there is one model), else on the
    ONNX encoder.

    Raises:
        PolicyError: the FAQ file is invalid.
        ConfigError: the encoder is not built.
    """
    stages: list[Stage] = [
        RulesStage(redis=redis, policy=policy, streams=streams),
        ClassifyStage(
            classifier=classifier,
            policy=policy,
            timeout_s=settings.model_timeout_s,
            max_chars=settings.model_max_chars,
            # the language matters only to decide what to escalate
            languages=(languages or LanguageDetector()) if policy.escalation.enabled else None,
        ),
        DecideStage(policy=policy),
    ]
    if policy.escalation.enabled:
        # Only then does decide() route anything to ESCALATE. Without an API key the stage
        # sends nothing and routes those messages to human review.
        from bot.escalation.build import build_escalate_stage

        stages.append(
            escalation
            or build_escalate_stage(
                redis=redis, settings=settings, policy=policy, streams=streams, metrics=metrics
            )
        )
    if policy.faq.file is not None:
        from bot.faq.entries import load_faqs
        from bot.faq.matcher import FaqMatcher, MatchSettings
        from bot.faq.stage import FaqStage

        if encoder is None:  # one model: the embedded classifier's encoder when there is one
            from bot.classifiers import EmbeddedClassifier, build_encoder

            encoder = (
                classifier.encoder
                if isinstance(classifier, EmbeddedClassifier)
                else build_encoder(settings)
            )
        matcher = FaqMatcher(
            faqs=load_faqs(policy.faq.file),
            encoder=encoder,
            settings=MatchSettings.from_policy(policy.faq),
        )
        stages.append(
            FaqStage(
                redis=redis,
                policy=policy,
                streams=streams,
                matcher=matcher,
                timeout_s=settings.model_timeout_s,
                max_chars=settings.model_max_chars,
            )
        )
    return stages


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
) -> Worker:
    """A worker over :func:`build_stages`; it closes its stages when it stops."""
    streams = Streams(namespace=settings.namespace)
    return Worker(
        redis=redis,
        streams=streams,
        stages=build_stages(
            redis=redis,
            settings=settings,
            policy=policy,
            classifier=classifier,
            streams=streams,
            encoder=encoder,
            metrics=metrics,
            escalation=escalation,
            languages=languages,
        ),
        metrics=metrics,
        consumer=consumer or consumer_name(),
        config=WorkerConfig(
            batch_size=settings.batch_size,
            block_ms=settings.block_ms,
            claim_idle_ms=settings.claim_idle_ms,
            max_deliveries=settings.max_deliveries,
            stream_maxlen=settings.stream_maxlen,
        ),
    )
