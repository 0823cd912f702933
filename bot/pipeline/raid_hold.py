"""Stages: during raid mode, the first message of a member who joined during it goes to review;
and (``raid.newcomer_hours``) a recent member's links and mentions go to review.

A case is opened (the review route) instead of the message being let through unseen; whether
a newcomer's message is the first is settled in Redis (:meth:`~bot.raid.RaidBook.first_message`),
so every worker agrees and a redelivered message is held again. Only with
``raid.actions: [hold_new_members]`` and Redis (a preview judge holds nothing).
"""

from __future__ import annotations

from collections.abc import Sequence

import redis.asyncio as aioredis

from bot.newcomers import Newcomers
from bot.pipeline.assessment import Assessment
from bot.pipeline.rules import find_links, has_mentions
from bot.policy import Policy
from bot.raid import RaidBook
from bot.streams import Streams
from bot.tenant import Tenant
from bot.verdict import Evidence, Route

__all__ = ["NEWCOMER_RULE", "RAID_HOLD_RULE", "NewcomerHoldStage", "RaidHoldStage"]

#: The evidence rule of a newcomer's first message held during raid mode.
RAID_HOLD_RULE = "raid:new_member"


class RaidHoldStage:
    name = "raid_hold"

    def __init__(self, *, redis: aioredis.Redis, policy: Policy, streams: Streams) -> None:
        self._book = RaidBook(redis=redis, streams=streams)
        self._policy = policy

    async def run(self, batch: Sequence[Assessment]) -> list[Assessment]:
        category = self._policy.rules.links.category
        out = []
        for item in batch:
            message = item.message
            held = await self._book.first_message(
                Tenant.of(message), message.author.id, message.key
            )
            if held:
                evidence = Evidence(
                    category=category,
                    rule=RAID_HOLD_RULE,
                    score=self._policy.thresholds(category, message.channel).review,
                    route=Route.REVIEW,
                    note="the first message of a member who joined during raid mode",
                )
                item = item.model_copy(update={"evidence": (*item.evidence, evidence)})
            out.append(item)
        return out


#: The evidence rule of a newcomer's link or mention held for review.
NEWCOMER_RULE = "newcomer:link_or_mention"


class NewcomerHoldStage:
    """Links and mentions from members who joined within ``raid.newcomer_hours`` go to review
    (the spam bots of a raid, and a new account's first advertisement); one round trip per
    tenant in a batch, and only for messages that carry a link or a mention."""

    name = "newcomer_hold"

    def __init__(self, *, redis: aioredis.Redis, policy: Policy, streams: Streams) -> None:
        self._newcomers = Newcomers(redis=redis, streams=streams)
        self._policy = policy

    async def run(self, batch: Sequence[Assessment]) -> list[Assessment]:
        window_s = self._policy.raid.newcomer_hours * 3600
        linking = [
            i for i, item in enumerate(batch)
            if find_links(item.message.text)
            or has_mentions(item.message.text, item.message.mentions)
        ]  # fmt: skip
        by_tenant: dict[Tenant, list[int]] = {}
        for i in linking:
            by_tenant.setdefault(Tenant.of(batch[i].message), []).append(i)
        out = list(batch)
        category = self._policy.rules.links.category
        for tenant, indices in by_tenant.items():
            authors = [batch[i].message.author.id for i in indices]
            joined = await self._newcomers.joined_at(tenant, authors)
            for i in indices:
                message = batch[i].message
                at = joined.get(message.author.id)
                if at is None or message.ts.timestamp() - at > window_s:
                    continue
                evidence = Evidence(
                    category=category,
                    rule=NEWCOMER_RULE,
                    score=self._policy.thresholds(category, message.channel).review,
                    route=Route.REVIEW,
                    note=f"a link or mention from a member who joined in the last "
                    f"{self._policy.raid.newcomer_hours} h",
                )
                out[i] = batch[i].model_copy(update={"evidence": (*batch[i].evidence, evidence)})
        return out
