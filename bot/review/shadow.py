"""Shadow mode switched at run time: decide and record, act on nothing.

The policy file's ``shadow`` settings are applied by the decide stage. The overrides here live
in Redis, one hash per tenant (``all``, ``channel:<id>``, ``category:<name>``), so one command
switches every worker and dispatcher of that tenant at once; the dispatcher asks before each
automatic action. The same hash holds ``exempt:<id>``: a channel modtriage leaves alone (the
worker's commit records the verdict and takes no action, opens no case there).
"""

from __future__ import annotations

from typing import Any

import redis.asyncio as aioredis

from bot.action import Action, OpenCase
from bot.keys import Streams
from bot.policy import Policy
from bot.review.notices import ACTION_ID_PREFIX
from bot.streams import read_decision
from bot.tenant import Tenant

__all__ = ["ShadowSwitch"]


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class ShadowSwitch:
    def __init__(self, *, redis: aioredis.Redis, streams: Streams) -> None:
        self._redis = redis
        self._streams = streams

    async def switch(
        self,
        tenant: Tenant,
        by: str,
        on: bool,
        *,
        channel: str | None = None,
        category: str | None = None,
    ) -> None:
        field = f"channel:{channel}" if channel else f"category:{category}" if category else "all"
        await self._switch(tenant, by, field, on, op="shadow", detail=field)

    async def exempt(self, tenant: Tenant, by: str, channel: str, on: bool) -> None:
        """Leave a channel alone (``on``), or moderate it again."""
        await self._switch(tenant, by, f"exempt:{channel}", on, op="exempt", detail=channel)

    async def _switch(
        self, tenant: Tenant, by: str, field: str, on: bool, *, op: str, detail: str
    ) -> None:
        """Set or clear one switch of the tenant's hash, and say so in its audit log."""
        keys = self._streams.tenant(tenant)
        async with self._redis.pipeline(transaction=True) as pipe:
            if on:
                pipe.hset(keys.shadow, field, "1")
            else:
                pipe.hdel(keys.shadow, field)
            pipe.xadd(
                keys.audit,
                {"actor": by, "op": op, "detail": f"{detail}={'on' if on else 'off'}"},
            )
            await pipe.execute()

    async def exempted(self, where: set[tuple[Tenant, str]]) -> set[tuple[Tenant, str]]:
        """Which of these (tenant, channel) are exempt: one round trip."""
        wanted = sorted(where, key=lambda tc: (str(tc[0]), tc[1]))
        if not wanted:
            return set()
        async with self._redis.pipeline(transaction=False) as pipe:
            for tenant, channel in wanted:
                pipe.hget(self._streams.tenant(tenant).shadow, f"exempt:{channel}")
            raw: list[Any] = await pipe.execute()
        return {tc for tc, value in zip(wanted, raw, strict=True) if value is not None}

    async def _fields(self, tenant: Tenant) -> set[str]:
        raw: Any = await self._redis.hgetall(self._streams.tenant(tenant).shadow)
        return {_text(k) for k, v in raw.items() if _text(v) == "1"}

    async def state(self, tenant: Tenant, policy: Policy) -> dict[str, bool]:
        fields = await self._fields(tenant)
        state = dict.fromkeys((f for f in fields if not f.startswith("exempt:")), True)
        if policy.shadow:
            state["all"] = True
        for name, spec in policy.categories.items():
            if spec.shadow:
                state[f"category:{name}"] = True
        for channel, override in policy.channels.items():
            if override.shadow is not None:
                state[f"channel:{channel}"] = override.shadow
        return state

    @staticmethod
    def covers(fields: set[str], channel: str, category: str | None) -> bool:
        """Whether switched-on ``fields`` (a tenant's hash) cover a channel and category."""
        return bool(
            "all" in fields
            or f"channel:{channel}" in fields
            or (category is not None and f"category:{category}" in fields)
        )

    async def silences(self, action: Action) -> bool:
        """Moderators' own decisions (ids starting ``case-``) are never silenced."""
        if action.id.startswith(ACTION_ID_PREFIX) or isinstance(action, OpenCase):
            return False
        fields = await self._fields(Tenant(platform=action.platform, workspace=action.workspace))
        if not fields:
            return False
        category = None
        if any(f.startswith("category:") for f in fields):
            decided = await read_decision(self._redis, self._streams, action.message_key)
            category = decided[1].category if decided is not None else None
        return self.covers(fields, action.channel, category)
