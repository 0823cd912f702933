"""Wiring: builds the worker and its judge from settings, policy and a classifier."""

from __future__ import annotations

import os
import socket
from typing import TYPE_CHECKING

import redis.asyncio as aioredis

from bot.classifiers.base import Classifier
from bot.classifiers.encoder import Encoder
from bot.metrics import Metrics
from bot.pipeline.judge import build_judge
from bot.pipeline.language import LanguageDetector
from bot.pipeline.worker import Worker, WorkerConfig
from bot.policy import Policy
from bot.settings import Settings
from bot.streams import Streams

if TYPE_CHECKING:
    from bot.escalation.stage import EscalateStage

__all__ = ["build_worker", "consumer_name"]


def consumer_name(role: str = "worker") -> str:
    """Unique per process, stable for its life: host and pid."""
    return f"{role}-{socket.gethostname()}-{os.getpid()}"


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
    """A worker over :func:`~bot.pipeline.judge.build_judge`; it closes the judge's stages
    when it stops."""
    streams = Streams(namespace=settings.namespace)
    return Worker(
        redis=redis,
        streams=streams,
        judge=build_judge(
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
