"""Per case: exactly what left the machine, what came back, and what it cost.

Stored in Redis under the message key, next to the verdict, so that the moderator's case view
can show the redacted text that was sent, the answer, and the pseudonyms mapped back.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

import redis.asyncio as aioredis
from pydantic import BaseModel, ConfigDict, Field

from bot.case import CaseEscalation
from bot.classification import Classification
from bot.escalation.pricing import Usage
from bot.stats import Counter, StatsBook
from bot.streams import Streams
from bot.tenant import Tenant

__all__ = ["EscalationRecord", "EscalationStore", "Outcome"]


class Outcome(StrEnum):
    ANSWERED = "answered"
    CACHED = "cached"
    BUDGET_EXHAUSTED = "budget_exhausted"
    UNAVAILABLE = "unavailable"
    MALFORMED = "malformed"

    @property
    def judged(self) -> bool:
        return self in {Outcome.ANSWERED, Outcome.CACHED}


class EscalationRecord(BaseModel):
    """One escalation of one message."""

    model_config = ConfigDict(frozen=True)

    message_key: str
    outcome: Outcome
    model: str
    policy_version: str
    sent: bool = Field(description="whether a request left the machine")
    system: str = Field(description="the system prompt, exactly as sent (or as it would be)")
    user: str = Field(description="the redacted thread and message, exactly as sent")
    context_messages: int = 0
    pseudonyms: dict[str, str] = Field(
        default_factory=dict, description="placeholder -> original; never leaves the machine"
    )
    answer: dict[str, Any] | None = Field(default=None, description="the tool input received")
    error: str | None = None
    classification: Classification | None = None
    first_opinion: Classification | None = Field(
        default=None, description="the small model's classification that led here"
    )
    usage: Usage = Usage()
    cost: float = 0.0
    currency: str = "USD"
    cache_key: str = ""
    at: datetime = Field(default_factory=lambda: datetime.now(UTC))

    def for_case(self, *, asked_by: str = "modtriage") -> CaseEscalation:
        """What the case keeps of it: everything but the system prompt (the policy)."""
        return CaseEscalation(
            outcome=self.outcome.value,
            model=self.model,
            sent=self.sent,
            text=self.user,
            pseudonyms=self.pseudonyms,
            answer=self.answer,
            error=self.error,
            cost=self.cost,
            currency=self.currency,
            asked_by=asked_by,
            at=self.at,
            cache_key=self.cache_key,
        )


class EscalationStore:
    """Saves and loads records by message key, with the same lifetime as verdicts."""

    def __init__(self, *, redis: aioredis.Redis, streams: Streams, ttl_s: int = 30 * 86400) -> None:
        self._redis = redis
        self._streams = streams
        self._ttl_s = ttl_s
        self._stats = StatsBook(redis=redis, streams=streams)

    def key(self, message_key: str) -> str:
        return self._streams.escalation(message_key)

    async def save(self, record: EscalationRecord) -> bool:
        """Store the record and count it in the moderators' stats (``/mod stats``):
        ``escalated``, ``escalated:<outcome>`` and ``cost:<currency>``, in the day bucket
        of the record's time.

        A cache hit does not replace the record of the request that paid for the same prompt
        about the same message (a redelivered message, a repeated ``/mod ask``): that record
        says what left the machine. Returns False then, and counts nothing.
        """
        if record.outcome is Outcome.CACHED:
            stored = await self.load(record.message_key)
            if stored is not None and stored.sent and stored.cache_key == record.cache_key:
                return False
        platform, workspace, _ = record.message_key.split(":", 2)
        counts = {Counter.ESCALATED: 1.0, Counter.escalated(record.outcome.value): 1.0}
        if record.cost:
            counts[Counter.cost(record.currency)] = record.cost
        tenant = Tenant.parse(f"{platform}:{workspace}")
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.set(self.key(record.message_key), record.model_dump_json(), ex=self._ttl_s)
            self._stats.add_to(pipe, tenant, counts, at=record.at)
            await pipe.execute()
        return True

    async def load(self, message_key: str) -> EscalationRecord | None:
        return self.parse(await self._redis.get(self.key(message_key)))

    @staticmethod
    def parse(raw: str | bytes | None) -> EscalationRecord | None:
        """A record as stored (``key``'s value), or None."""
        return None if raw is None else EscalationRecord.model_validate_json(raw)
