"""Slack's ``team_join`` event: a member joined the workspace. Recorded with the time, so a
policy with ``raid.newcomer_hours`` holds their links and mentions for review
(:class:`bot.pipeline.raid_hold.NewcomerHoldStage`)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import structlog
from redis.exceptions import RedisError

from bot.newcomers import Newcomers
from bot.tenant import Tenant

__all__ = ["on_team_join"]

log = structlog.get_logger(__name__)


def on_team_join(newcomers: Newcomers) -> Callable[[dict[str, Any]], Awaitable[None]]:
    """The Bolt listener for ``team_join`` (its ``body`` is the event callback)."""

    async def listener(body: dict[str, Any]) -> None:
        user = (body.get("event") or {}).get("user") or {}
        member, team = str(user.get("id") or ""), str(body.get("team_id") or "")
        if not member or not team or user.get("is_bot"):
            return
        at = datetime.fromtimestamp(float(body.get("event_time") or 0), UTC)
        if at.timestamp() <= 0:
            at = datetime.now(UTC)
        try:
            await newcomers.joined(Tenant(platform="slack", workspace=team), member, at)
        except RedisError as exc:  # Slack does not resend: the member is simply not held
            log.warning("team_join not recorded", member=member, error=str(exc))

    return listener
