"""What the moderation service's features share: collaborators, the tenant's policy, and the
one permission check.

Each tenant's policy is the current version in the :class:`~bot.policy_book.PolicyBook`
(its own file's, else the default's): ``test``, ``ask`` and ``reload`` read it from Redis,
the other operations use the version last read.

A moderator's rights are checked against the tenant of what they act on: the actor must
belong to that tenant (same platform, same workspace) and be an administrator there, hold a
role that tenant's policy lists in ``moderators.roles``, or be named in ``moderators.users``.
A moderator of another tenant learns nothing: a case of another tenant is "not found".
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import redis.asyncio as aioredis

from bot.case import Case
from bot.classifiers.rules_only import RulesOnlyClassifier
from bot.errors import CaseNotFound, PermissionDenied
from bot.escalation.record import EscalationStore
from bot.escalation.stage import EscalateStage
from bot.insights.drift import MIN_MESSAGES, DriftBook
from bot.insights.summary import Summariser
from bot.keys import Streams
from bot.pipeline.judge import Judge, JudgeFactory, build_judge
from bot.pipeline.tenant_judge import TenantJudge
from bot.policy import Policy
from bot.policy_book import PolicyBook
from bot.policy_sources import PolicySources
from bot.review.actor import Actor
from bot.review.opinion import SecondOpinions
from bot.review.planning import DecisionPlanner
from bot.review.shadow import ShadowSwitch
from bot.review.store import CaseStore
from bot.stats import StatsBook
from bot.tenant import Tenant

if TYPE_CHECKING:
    from bot.insights.backtest import Backtest

__all__ = ["ServiceCore"]


def _now() -> datetime:
    return datetime.now(UTC)


class ServiceCore:
    """Collaborators come in keyword-only: the Redis client, the stream names, the default
    policy (and the file it came from, for ``reload_policy``) or the whole ``policies`` book
    (tenants with their own files), what builds the preview judge ``test`` uses for a policy
    version (:func:`bot.pipeline.judge.build_judge` without Redis; rules only when None), the
    escalate stage ``ask`` sends through (None: escalation off), a clock (tests pass
    their own), the scores a drift comparison needs on each side
    (:mod:`bot.insights.drift`), what writes ``/mod summary`` and what replays history for
    ``/mod backtest`` (None: not offered)."""

    def __init__(
        self,
        *,
        redis: aioredis.Redis,
        streams: Streams,
        policy: Policy,
        policy_path: Path | None = None,
        judges: JudgeFactory | None = None,
        policies: PolicyBook | None = None,
        escalation: EscalateStage | None = None,
        clock: Callable[[], datetime] = _now,
        claim_ttl_s: int = 1800,
        stream_maxlen: int = 100_000,
        drift_min_messages: int = MIN_MESSAGES,
        summariser: Summariser | None = None,
        backtest: Backtest | None = None,
    ) -> None:
        self._redis = redis
        self._streams = streams
        self._policies = policies or PolicyBook(
            redis=redis, streams=streams, default=policy, sources=PolicySources(default=policy_path)
        )

        def rules_only(version: Policy) -> Judge:
            return build_judge(policy=version, classifier=RulesOnlyClassifier())

        self._judges = TenantJudge(policies=self._policies, build=judges or rules_only)
        self._clock = clock
        self._claim_ttl = timedelta(seconds=claim_ttl_s)
        self.store = CaseStore(redis=redis, streams=streams, maxlen=stream_maxlen, clock=clock)
        self._stats = StatsBook(redis=redis, streams=streams)
        self._drift = DriftBook(redis=redis, streams=streams, min_messages=drift_min_messages)
        self.keys = self.store.keys
        self._shadow = ShadowSwitch(redis=redis, streams=streams)
        self._escalations = EscalationStore(redis=redis, streams=streams)
        self._opinions = SecondOpinions(store=self.store, escalation=escalation, clock=clock)
        self._summariser = summariser
        self._backtest = backtest

    @property
    def policy(self) -> Policy:
        """The default policy (tenants without their own file)."""
        return self._policies.default

    @property
    def policies(self) -> PolicyBook:
        return self._policies

    def policy_for(self, tenant: Tenant) -> Policy:
        """The tenant's policy, as last read."""
        return self._policies.latest(tenant)

    async def judge_for(self, tenant: Tenant) -> Judge:
        """The preview judge of the tenant's current policy (built once per version).

        Raises:
            RedisError: the current version cannot be read.
        """
        return await self._judges.current(tenant)

    # -- permissions ----------------------------------------------------------------------

    async def is_moderator(self, actor: Actor, tenant: Tenant | None = None) -> bool:
        """Whether the actor moderates ``tenant`` (their own when None), under the tenant's
        current policy (read now: a moderator removed by a reload in another process has no
        rights left here either).

        Raises:
            RedisError: the current policy cannot be read.
        """
        where = tenant or actor.tenant
        if actor.tenant != where:
            return False
        mods = (await self._policies.current_one(where)).moderators
        return (
            actor.is_admin
            or any(role in mods.roles for role in actor.roles)
            or actor.user_id in mods.users
            or actor.label() in mods.users
        )

    async def _require_moderator(self, actor: Actor, operation: str) -> Tenant:
        """The actor's own tenant, once they are known to moderate it.

        Raises:
            PermissionDenied: they do not.
        """
        if not await self.is_moderator(actor):
            raise PermissionDenied(actor.label(), operation)
        return actor.tenant

    async def _require_case(self, actor: Actor, case: Case, operation: str) -> None:
        """Raises CaseNotFound for a case of another tenant (nothing about it is revealed),
        PermissionDenied for a member of the case's tenant who does not moderate it."""
        if actor.tenant != Tenant.of(case.message):
            raise CaseNotFound(case.id)
        await self._require_moderator(actor, operation)

    @staticmethod
    def _is_author(actor: Actor, case: Case) -> bool:
        message = case.message
        return (
            actor.platform == message.platform
            and actor.workspace == message.workspace
            and actor.user_id == message.author.id
        )

    def _planner(self, tenant: Tenant) -> DecisionPlanner:
        return DecisionPlanner(policy=self.policy_for(tenant), now=self._clock())
