"""The one way to judge a message: the stages, built once, run in order, nothing committed.

The worker commits what :meth:`Judge.assess` returns; ``/mod test``, ``/mod faq test``,
``modtriage classify`` and the escalation estimate read what it returns and commit nothing.
All of them therefore truncate, time out, detect the language and match FAQ answers the same
way, so a moderator's preview is the answer the pipeline would give.

A judge built without Redis is a *preview* judge: rules without flood and duplicate counters
(they need a conversation), no escalate stage (nothing leaves the machine: a message the
frontier model would see keeps its ``escalate`` route), and FAQ answers matched as the policy
switches them on per channel, without claiming the thread's cooldown.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import redis.asyncio as aioredis
from pydantic import BaseModel, ConfigDict, Field

from bot.classifiers.base import Classifier
from bot.classifiers.encoder import Encoder
from bot.errors import ConfigError
from bot.message import Message
from bot.metrics import Metrics
from bot.pipeline.assessment import Assessment
from bot.pipeline.classify import ClassifyStage
from bot.pipeline.decide import DecideStage
from bot.pipeline.language import LanguageDetector
from bot.pipeline.rules import RulesStage
from bot.pipeline.stage import Stage
from bot.policy import Policy
from bot.streams import Streams

if TYPE_CHECKING:
    from bot.escalation.stage import EscalateStage
    from bot.faq.matcher import FaqMatcher
    from bot.settings import Settings

__all__ = ["Judge", "JudgeFactory", "JudgeLimits", "build_judge"]

#: Called after each stage with its name and the seconds it took (the worker's metrics).
StageTimer = Callable[[str, float], None]


class JudgeLimits(BaseModel):
    """How much of a text the models read and how long they may take (per batch)."""

    model_config = ConfigDict(frozen=True)

    timeout_s: float = Field(default=10.0, gt=0)
    max_chars: int = Field(default=2_000, ge=16)

    @classmethod
    def from_settings(cls, settings: Settings) -> JudgeLimits:
        return cls(timeout_s=settings.model_timeout_s, max_chars=settings.model_max_chars)


class Judge:
    """The stages in order, for one policy."""

    def __init__(self, *, stages: Sequence[Stage], policy: Policy) -> None:
        self._stages = list(stages)
        self.policy = policy

    @property
    def stages(self) -> list[Stage]:
        return list(self._stages)

    @property
    def faq_matcher(self) -> FaqMatcher | None:
        """The FAQ stage's matcher, on the encoder it embeds with (None: no FAQ answers)."""
        from bot.faq.stage import FaqStage

        found = next((s for s in self._stages if isinstance(s, FaqStage)), None)
        return found.matcher if found is not None else None

    async def assess(
        self, batch: Sequence[Assessment], *, timer: StageTimer | None = None
    ) -> list[Assessment]:
        """Every stage over the batch, in order; the result carries verdict and actions.

        Raises what a stage raises. A model that cannot answer in time raises nothing: its
        messages carry ``model_unavailable`` and are decided on the rules alone."""
        out = list(batch)
        for stage in self._stages:
            started = time.perf_counter()
            out = await stage.run(out)
            if timer is not None:
                timer(stage.name, time.perf_counter() - started)
        return out

    async def judge(self, messages: Sequence[Message]) -> list[Assessment]:
        """Each message judged as the pipeline would judge it; nothing is committed."""
        return await self.assess(
            [Assessment(entry_id=f"judge-{i}", message=m) for i, m in enumerate(messages)]
        )

    async def aclose(self) -> None:
        """Release what stages hold (the escalate stage's HTTP client)."""
        for stage in self._stages:
            close = getattr(stage, "aclose", None)
            if close is not None:
                await close()


def build_judge(
    *,
    policy: Policy,
    classifier: Classifier,
    limits: JudgeLimits | None = None,
    settings: Settings | None = None,
    redis: aioredis.Redis | None = None,
    streams: Streams | None = None,
    encoder: Encoder | None = None,
    metrics: Metrics | None = None,
    escalation: EscalateStage | None = None,
    languages: LanguageDetector | None = None,
) -> Judge:
    """The stages in order: rules, classify, decide, then escalate (``escalation.enabled``,
    with Redis) and FAQ answers (``faq.file``: the matcher ``modtriage faq train`` fitted for
    the file under the settings' data directory, else the closed-form one on ``encoder``, else
    the settings' FAQ encoder: the stock sentence encoder, which matches questions better than
    the moderation-tuned one; without settings, the embedded classifier's).

    With settings, the embedded classifier scores with the heads trained for ``policy`` (a
    tenant's own categories included: ``modtriage train --policy``), on the same encoder.
    ``limits`` default to the ``settings``' (or the defaults); ``escalation`` and
    ``languages`` when the caller already holds them, so one process has one of each.
    Without ``redis`` the judge previews (see the module).

    Raises:
        PolicyError: the FAQ file is invalid.
        ConfigError: the encoder is not built, or escalation needs settings it lacks.
    """
    if limits is None:
        limits = JudgeLimits.from_settings(settings) if settings is not None else JudgeLimits()
    if settings is not None:
        from bot.classifiers import EmbeddedClassifier

        if isinstance(classifier, EmbeddedClassifier):  # the heads fitted for this policy
            classifier = classifier.for_policy(policy, settings.data_dir)
    streams = streams or (settings.streams() if settings else Streams())
    stages: list[Stage] = [
        RulesStage(redis=redis, policy=policy, streams=streams),
        ClassifyStage(
            classifier=classifier,
            policy=policy,
            timeout_s=limits.timeout_s,
            max_chars=limits.max_chars,
            # the language matters only to decide what to escalate
            languages=(languages or LanguageDetector()) if policy.escalation.enabled else None,
        ),
        DecideStage(policy=policy),
    ]
    if policy.raid.enabled and "hold_new_members" in policy.raid.actions and redis is not None:
        from bot.pipeline.raid_hold import RaidHoldStage

        stages.insert(1, RaidHoldStage(redis=redis, policy=policy, streams=streams))
    if policy.raid.newcomer_hours and redis is not None:
        from bot.pipeline.raid_hold import NewcomerHoldStage

        stages.insert(1, NewcomerHoldStage(redis=redis, policy=policy, streams=streams))
    if policy.escalation.enabled and redis is not None:
        # Only then does decide() route anything to ESCALATE. Without an API key the stage
        # sends nothing and routes those messages to human review.
        if escalation is None:
            from bot.escalation.build import build_escalate_stage

            if settings is None:
                raise ConfigError("escalation needs the frontier settings: pass settings=")
            escalation = build_escalate_stage(
                redis=redis, settings=settings, policy=policy, streams=streams, metrics=metrics
            )
        stages.append(escalation.for_policy(policy))
    if policy.faq.file is not None:
        from bot.faq.entries import FaqFile, load_faqs
        from bot.faq.stage import FaqStage
        from bot.faq.trained import build_faq_matcher

        def faq_encoder() -> Encoder:
            if encoder is not None:
                return encoder
            from bot.classifiers import EmbeddedClassifier, build_faq_encoder

            fallback = classifier.encoder if isinstance(classifier, EmbeddedClassifier) else None
            if settings is not None:
                return build_faq_encoder(settings, fallback=fallback)
            if fallback is not None:
                return fallback
            raise ConfigError("FAQ answers need an encoder: pass encoder= or settings=")

        # the matcher `modtriage faq train` fitted for this content of the file, when the
        # data directory holds one; else the closed-form matcher on the FAQ encoder
        def faq_matcher(faqs: FaqFile) -> FaqMatcher:
            return build_faq_matcher(
                faqs=faqs,
                data_dir=settings.data_dir if settings is not None else None,
                encoder=faq_encoder,
                thresholds=policy.faq,
                threads=settings.encoder_threads if settings is not None else 1,
            )

        stages.append(
            FaqStage(
                redis=redis,
                policy=policy,
                streams=streams,
                matcher=faq_matcher(load_faqs(policy.faq.file)),
                timeout_s=limits.timeout_s,
                max_chars=limits.max_chars,
                rebuild=faq_matcher,
            )
        )
    return Judge(stages=stages, policy=policy)


#: Builds the preview judge for a policy (the moderation service calls it per policy version).
JudgeFactory = Callable[[Policy], Judge]
