"""The judge of every tenant: each batch is judged under each tenant's current policy.

A :class:`~bot.pipeline.judge.Judge` is built once per policy version (its stages compile
the policy's lists and patterns, and FAQ answers embed the FAQ file); this one reads the
current version of each tenant in the batch from the :class:`~bot.policy_book.PolicyBook`
(one round trip), judges each tenant's messages with that version's judge and keeps the
batch's order. A policy reload therefore reaches the next batch of every running worker.
"""

from __future__ import annotations

from collections.abc import Sequence

from bot.message import Message
from bot.pipeline.assessment import Assessment
from bot.pipeline.judge import Judge, JudgeFactory, StageTimer
from bot.policy import Policy
from bot.policy_book import PolicyBook
from bot.tenant import Tenant

__all__ = ["TenantJudge"]


class TenantJudge:
    """``build`` makes the judge of one policy version (:func:`build_judge`); ``policies``
    says which version is current per tenant."""

    def __init__(self, *, policies: PolicyBook, build: JudgeFactory) -> None:
        self.policies = policies
        self._build = build
        self._judges: dict[str, Judge] = {}

    def policy_for(self, tenant: Tenant) -> Policy:
        """The tenant's policy as of the latest batch (what its verdicts were decided by)."""
        return self.policies.latest(tenant)

    def judge_of(self, policy: Policy) -> Judge:
        """The judge of one policy version, built on first use."""
        judge = self._judges.get(policy.version)
        if judge is None:
            judge = self._build(policy)
            self._judges[policy.version] = judge
        return judge

    async def current(self, tenant: Tenant) -> Judge:
        """The judge of the tenant's current policy, read now."""
        return self.judge_of(await self.policies.current_one(tenant))

    async def assess(
        self, batch: Sequence[Assessment], *, timer: StageTimer | None = None
    ) -> list[Assessment]:
        """Each message judged under its tenant's current policy, in the batch's order.

        Raises what :meth:`Judge.assess` raises, and RedisError when the versions cannot be
        read (the batch stays pending)."""
        policies = await self.policies.current(Tenant.of(item.message) for item in batch)
        groups: dict[str, list[int]] = {}
        for index, item in enumerate(batch):
            groups.setdefault(policies[Tenant.of(item.message)].version, []).append(index)
        out: list[Assessment | None] = [None] * len(batch)
        for indexes in groups.values():
            policy = policies[Tenant.of(batch[indexes[0]].message)]
            judged = await self.judge_of(policy).assess([batch[i] for i in indexes], timer=timer)
            for index, item in zip(indexes, judged, strict=True):
                out[index] = item
        return [item for item in out if item is not None]

    async def judge(self, messages: Sequence[Message]) -> list[Assessment]:
        """Each message judged as the pipeline would judge it; nothing is committed."""
        return await self.assess(
            [Assessment(entry_id=f"judge-{i}", message=m) for i, m in enumerate(messages)]
        )

    async def aclose(self) -> None:
        """Release what every version's stages hold."""
        for judge in self._judges.values():
            await judge.aclose()
