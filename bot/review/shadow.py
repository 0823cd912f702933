"""Shadow mode switched at run time: decide and record, act on nothing.

The policy file's ``shadow`` settings are applied by the decide stage. The overrides here live
in Redis (``{ns}:shadow``: ``all``, ``channel:<id>``, ``category:<name>``), so one command
switches every worker and dispatcher at once; the dispatcher asks before each automatic action.
"""

from __future__ import annotations

from typing import Any

import redis.asyncio as aioredis

from bot.action import Action, OpenCase
from bot.policy import Policy
from bot.review.notices import ACTION_ID_PREFIX
from bot.review.store import CaseKeys
from bot.streams import Streams, read_decision

__all__ = ["ShadowSwitch"]


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class ShadowSwitch:
    def __init__(self, *, redis: aioredis.Redis, streams: Streams, keys: CaseKeys) -> None:
        self._redis = redis
        self._streams = streams
        self._keys = keys

    async def switch(
        self, by: str, on: bool, *, channel: str | None = None, category: str | None = None
    ) -> None:
        field = f"channel:{channel}" if channel else f"category:{category}" if category else "all"
        async with self._redis.pipeline(transaction=True) as pipe:
            if on:
                pipe.hset(self._keys.shadow, field, "1")
            else:
                pipe.hdel(self._keys.shadow, field)
            pipe.xadd(
                self._keys.audit,
                {"actor": by, "op": "shadow", "detail": f"{field}={'on' if on else 'off'}"},
            )
            await pipe.execute()

    async def _fields(self) -> set[str]:
        raw: Any = await self._redis.hgetall(self._keys.shadow)
        return {_text(k) for k, v in raw.items() if _text(v) == "1"}

    async def state(self, policy: Policy) -> dict[str, bool]:
        state = dict.fromkeys(await self._fields(), True)
        if policy.shadow:
            state["all"] = True
        for name, spec in policy.categories.items():
            if spec.shadow:
                state[f"category:{name}"] = True
        for channel, override in policy.channels.items():
            if override.shadow is not None:
                state[f"channel:{channel}"] = override.shadow
        return state

    async def on(self, channel: str, category: str | None) -> bool:
        fields = await self._fields()
        return bool(
            "all" in fields
            or f"channel:{channel}" in fields
            or (category is not None and f"category:{category}" in fields)
        )

    async def silences(self, action: Action) -> bool:
        """Moderators' own decisions (ids starting ``case-``) are never silenced."""
        if action.id.startswith(ACTION_ID_PREFIX) or isinstance(action, OpenCase):
            return False
        fields = await self._fields()
        if not fields:
            return False
        category = None
        if any(f.startswith("category:") for f in fields):
            decided = await read_decision(self._redis, self._streams, action.message_key)
            category = decided[1].category if decided is not None else None
        return await self.on(action.channel, category)
