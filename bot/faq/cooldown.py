"""The bot never repeats an answer in a thread: one claim per (thread, entry) per cooldown."""

from __future__ import annotations

from typing import Any

import redis.asyncio as aioredis

from bot.connection import register_script
from bot.faq.keys import FaqKeys
from bot.message import Message

__all__ = ["ThreadCooldown"]

# SET NX with the claiming message as the value: a redelivered message finds its own claim
# and answers again (the action id dedupes the post), any other message is refused.
_CLAIM = """
local held = redis.call('GET', KEYS[1])
if not held then
  redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
  return 1
end
if held == ARGV[1] then return 1 end
return 0
"""


class ThreadCooldown:
    def __init__(self, *, redis: aioredis.Redis, keys: FaqKeys, seconds: int) -> None:
        self._keys = keys
        self._seconds = seconds
        self._claim = register_script(redis, _CLAIM)

    async def claim(self, message: Message, faq_id: str) -> bool:
        """True when this message may answer with ``faq_id`` in its thread."""
        got: Any = await self._claim(
            keys=[self._keys.said(message, faq_id)], args=[message.key, self._seconds]
        )
        return int(got) == 1
