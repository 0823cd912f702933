"""'Helpful / not helpful' on an FAQ answer: one vote per member per answer, counted per entry.

Adapters render the buttons on a :class:`~bot.action.Reply` with ``feedback_buttons=True`` and
call :meth:`FaqFeedback.record` with the entry, the vote, the member and the posted answer's id;
a member may change their vote, and a repeated vote counts once.
"""

from __future__ import annotations

from typing import Any

import redis.asyncio as aioredis
from pydantic import BaseModel, ConfigDict

from bot.connection import register_script
from bot.faq.keys import FaqKeys
from bot.streams import Streams

__all__ = ["FaqFeedback", "FeedbackCount"]

# Votes per answer in a hash (member -> 1|0); totals per entry in another. Changing a vote
# moves it between the totals, a repeated vote changes nothing: atomic in one script.
_VOTE = """
local old = redis.call('HGET', KEYS[1], ARGV[1])
if old == ARGV[2] then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('EXPIRE', KEYS[1], ARGV[4])
if old then
  redis.call('HINCRBY', KEYS[2], ARGV[3] .. (old == '1' and ':helpful' or ':not_helpful'), -1)
end
redis.call('HINCRBY', KEYS[2], ARGV[3] .. (ARGV[2] == '1' and ':helpful' or ':not_helpful'), 1)
return 1
"""


class FeedbackCount(BaseModel):
    model_config = ConfigDict(frozen=True)

    helpful: int = 0
    not_helpful: int = 0


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class FaqFeedback:
    def __init__(
        self, *, redis: aioredis.Redis, streams: Streams, voter_ttl_s: int = 90 * 86400
    ) -> None:
        self._redis = redis
        self._keys = FaqKeys(streams)
        self._ttl = voter_ttl_s
        self._vote = register_script(redis, _VOTE)

    async def record(self, *, faq_id: str, helpful: bool, voter: str, answer: str) -> bool:
        """Store a member's vote on one posted answer (``answer``: the reply's message id or
        action id); False when it repeats their earlier vote."""
        changed: Any = await self._vote(
            keys=[self._keys.votes(answer), self._keys.feedback],
            args=[voter, "1" if helpful else "0", faq_id, self._ttl],
        )
        return int(changed) == 1

    async def counts(self) -> dict[str, FeedbackCount]:
        """Votes per entry id."""
        raw: Any = await self._redis.hgetall(self._keys.feedback)
        totals: dict[str, dict[str, int]] = {}
        for field, value in raw.items():
            faq_id, _, kind = _text(field).rpartition(":")
            if kind in {"helpful", "not_helpful"}:
                counts = totals.setdefault(faq_id, {})
                counts[kind] = counts.get(kind, 0) + int(_text(value))
        return {k: FeedbackCount(**v) for k, v in sorted(totals.items())}
