"""FAQ answers switched on or off per channel at run time, for every worker at once.

Order of precedence: the switch in Redis (``{ns}:faq:channels``), then the policy's
``channels.<id>.faq``, then ``faq.enabled``.
"""

from __future__ import annotations

from typing import Any

import redis.asyncio as aioredis

from bot.faq.keys import FaqKeys
from bot.policy import Policy

__all__ = ["FaqChannels"]


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class FaqChannels:
    def __init__(self, *, redis: aioredis.Redis, keys: FaqKeys) -> None:
        self._redis = redis
        self._keys = keys

    async def switch(self, channel: str, on: bool | None) -> None:
        """Turn answers on or off in a channel; ``None`` goes back to what the policy says."""
        if on is None:
            await self._redis.hdel(self._keys.channels, channel)
        else:
            await self._redis.hset(self._keys.channels, channel, "1" if on else "0")

    async def overrides(self) -> dict[str, bool]:
        raw: Any = await self._redis.hgetall(self._keys.channels)
        return {_text(k): _text(v) == "1" for k, v in raw.items()}

    async def enabled(self, policy: Policy, channels: set[str]) -> dict[str, bool]:
        """Whether answers are on, for each channel asked about (one round trip)."""
        names = sorted(channels)
        raw: Any = await self._redis.hmget(self._keys.channels, names) if names else []
        out: dict[str, bool] = {}
        for name, value in zip(names, raw, strict=True):
            if value is not None:
                out[name] = _text(value) == "1"
            else:
                out[name] = self.by_policy(policy, name)
        return out

    @staticmethod
    def by_policy(policy: Policy, channel: str) -> bool:
        """Whether the policy alone turns answers on in a channel."""
        override = policy.channels.get(channel)
        if override is not None and override.faq is not None:
            return override.faq
        return policy.faq.enabled
