"""Stage: during raid mode, the first message of a member who joined during it goes to review.

A case is opened (the review route) instead of the message being let through unseen; whether
a newcomer's message is the first is settled in Redis (:meth:`~bot.raid.RaidBook.first_message`),
so every worker agrees and a redelivered message is held again. Only with
``raid.actions: [hold_new_members]`` and Redis (a preview judge holds nothing).
"""

from __future__ import annotations

from collections.abc import Sequence

import redis.asyncio as aioredis

from bot.pipeline.assessment import Assessment
from bot.policy import Policy
from bot.raid import RaidBook
from bot.streams import Streams
from bot.tenant import Tenant
from bot.verdict import Evidence, Route

__all__ = ["RAID_HOLD_RULE", "RaidHoldStage"]

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
