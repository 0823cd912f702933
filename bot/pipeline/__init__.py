"""The worker side: stages, decide, and the stream consumer that runs them."""

from __future__ import annotations

from bot.pipeline.assessment import Assessment
from bot.pipeline.classify import ClassifyStage
from bot.pipeline.decide import DecideStage, decide
from bot.pipeline.ingest import Ingest
from bot.pipeline.judge import Judge, JudgeLimits, build_judge
from bot.pipeline.language import LanguageDetector
from bot.pipeline.rules import RulesStage
from bot.pipeline.stage import Stage
from bot.pipeline.tenant_judge import TenantJudge
from bot.pipeline.worker import Worker, WorkerConfig

__all__ = [
    "Assessment",
    "ClassifyStage",
    "DecideStage",
    "Ingest",
    "Judge",
    "JudgeLimits",
    "LanguageDetector",
    "RulesStage",
    "Stage",
    "TenantJudge",
    "Worker",
    "WorkerConfig",
    "build_judge",
    "decide",
]
