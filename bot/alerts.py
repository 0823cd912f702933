"""Where alerts for moderators go in each tenant: a channel, and a role to ping there.

Set from chat (``/mod setup``), stored per tenant in Redis (``TenantKeys.alerts``: channel,
role, by, at) with an audit entry, and read by the adapters per alert, so a change reaches
every process at once. A tenant without one falls back to the settings, then to its policy's
``moderators.channel``. An alert that is :func:`critical` and finds no channel at all goes by
direct message to the tenant's owners and admins instead of being dropped.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import redis.asyncio as aioredis
from pydantic import BaseModel, ConfigDict, Field

from bot.keys import Streams
from bot.policy import Policy
from bot.tenant import Tenant

__all__ = ["AlertRoute", "AlertRoutes", "critical"]


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class AlertRoute(BaseModel):
    """A tenant's moderators' channel and the role pinged there, as a moderator set them."""

    model_config = ConfigDict(frozen=True)

    channel: str = Field(min_length=1, description="a channel id")
    role: str | None = Field(default=None, description="a role or user group id to ping")
    by: str = ""
    at: datetime | None = None


def critical(policy: Policy, category: str | None) -> bool:
    """Whether an alert about ``category`` must reach someone: the category is a support case
    (self-harm) or of critical severity (sexual content involving minors)."""
    spec = policy.categories.get(category or "")
    return spec is not None and (spec.support or spec.severity == "critical")


class AlertRoutes:
    """The ``alerts`` hash of each tenant; the one writer of it."""

    def __init__(self, *, redis: aioredis.Redis, streams: Streams) -> None:
        self._redis = redis
        self._streams = streams

    async def get(self, tenant: Tenant) -> AlertRoute | None:
        """Raises RedisError."""
        raw: Any = await self._redis.hgetall(self._streams.tenant(tenant).alerts)
        fields = {_text(k): _text(v) for k, v in raw.items()}
        if not fields.get("channel"):
            return None
        return AlertRoute(
            channel=fields["channel"],
            role=fields.get("role") or None,
            by=fields.get("by", ""),
            at=datetime.fromisoformat(fields["at"]) if fields.get("at") else None,
        )

    async def set(self, tenant: Tenant, route: AlertRoute) -> None:
        """Replace the tenant's route, with an audit entry. Raises RedisError."""
        keys = self._streams.tenant(tenant)
        at = route.at.isoformat() if route.at else ""
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.hset(
                keys.alerts,
                mapping={"channel": route.channel, "role": route.role or "", "by": route.by,
                         "at": at},
            )  # fmt: skip
            pipe.xadd(
                keys.audit,
                {
                    "actor": route.by,
                    "op": "alerts",
                    "detail": f"{route.channel} {route.role or ''}",
                },
            )
            await pipe.execute()
