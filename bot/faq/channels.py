"""FAQ answers switched on or off per channel at run time, for every worker at once.

Order of precedence: the tenant's switch in Redis (``{ns}:tenant:<platform>:<workspace>:faq``,
a hash by channel id), then the policy's ``channels.<id>.faq``, then ``faq.enabled``.
"""

from __future__ import annotations

from typing import Any

import redis.asyncio as aioredis

from bot.keys import Streams
from bot.policy import Policy
from bot.tenant import Tenant

__all__ = ["FaqChannels"]


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class FaqChannels:
    def __init__(self, *, redis: aioredis.Redis, streams: Streams) -> None:
        self._redis = redis
        self._streams = streams

    async def switch(self, tenant: Tenant, channel: str, on: bool | None) -> None:
        """Turn answers on or off in a channel of ``tenant``; ``None`` goes back to what the
        policy says."""
        key = self._streams.tenant(tenant).faq_channels
        if on is None:
            await self._redis.hdel(key, channel)
        else:
            await self._redis.hset(key, channel, "1" if on else "0")

    async def overrides(self, tenant: Tenant) -> dict[str, bool]:
        raw: Any = await self._redis.hgetall(self._streams.tenant(tenant).faq_channels)
        return {_text(k): _text(v) == "1" for k, v in raw.items()}

    async def enabled(
        self, policy: Policy, where: set[tuple[Tenant, str]]
    ) -> dict[tuple[Tenant, str], bool]:
        """Whether answers are on, for each (tenant, channel) asked about (one round trip)."""
        wanted = sorted(where, key=lambda tc: (str(tc[0]), tc[1]))
        async with self._redis.pipeline(transaction=False) as pipe:
            for tenant, channel in wanted:
                pipe.hget(self._streams.tenant(tenant).faq_channels, channel)
            raw: list[Any] = await pipe.execute() if wanted else []
        out: dict[tuple[Tenant, str], bool] = {}
        for (tenant, channel), value in zip(wanted, raw, strict=True):
            if value is not None:
                out[tenant, channel] = _text(value) == "1"
            else:
                out[tenant, channel] = self.by_policy(policy, channel)
        return out

    @staticmethod
    def by_policy(policy: Policy, channel: str) -> bool:
        """Whether the policy alone turns answers on in a channel."""
        override = policy.channels.get(channel)
        if override is not None and override.faq is not None:
            return override.faq
        return policy.faq.enabled
