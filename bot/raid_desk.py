"""The raid desk: what raid mode does when it starts and ends, and ``/mod raid on|off|status``.

Platform-free: an adapter converts a member join and calls :meth:`RaidDesk.joined`, checks
:meth:`RaidDesk.end_quiet` every second or so, and renders the moderators' commands. Raid mode
acts through the actions stream and the dispatcher like everything else: an alert to the
moderators (``NotifyModerators``, pinging the moderators' roles), slowmode (``SetSlowmode``)
and lock (``LockChannel``) on the policy's channels; its end puts slowmode back and unlocks.
Action ids derive from the raid and the channel, so a repeated start or end acts once.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import redis.asyncio as aioredis

from bot.action import Action, LockChannel, NotifyModerators, SetSlowmode, action_id
from bot.notice_template import human_duration
from bot.policy import RaidProtection
from bot.raid import Join, JoinCount, RaidBook, RaidState
from bot.review.actor import Actor
from bot.review.interface import Moderation
from bot.streams import Streams
from bot.tenant import Tenant

__all__ = ["RaidDesk", "raid_actions"]


def _now() -> datetime:
    return datetime.now(UTC)


def _did(state: RaidState, rules: RaidProtection) -> str:
    done = []
    where = ", ".join(f"<#{c}>" for c in state.channels)
    if "slowmode" in state.actions and where:
        done.append(f"slowmode {rules.slowmode_seconds}s in {where}")
    if "lock" in state.actions and where:
        done.append(f"locked {where}")
    if "hold_new_members" in state.actions:
        done.append("new members' first messages are held for review")
    return "; ".join(done) or "nothing else was changed"


def raid_actions(
    state: RaidState, rules: RaidProtection, *, ending: bool, ping_roles: tuple[str, ...] = ()
) -> list[Action]:
    """The actions that start (or, ``ending``, end) raid mode. Pure."""
    phase = "end" if ending else "start"
    key = f"raid:{state.tenant}:{state.raid_id}"
    why = f"raid mode {'ended' if ending else 'on'}: {state.reason}"
    common: dict[str, Any] = {
        "platform": state.tenant.platform,
        "workspace": state.tenant.workspace,
        "message_id": state.raid_id,
        "user_id": "0",  # no member: the raid as a whole
        "message_key": key,
        "reason": why[:500],
    }

    def aid(kind: str, where: str = "") -> str:
        return action_id(key, kind, f"{phase}:{where}")

    built: list[Action] = []
    for channel in state.channels:
        if "slowmode" in state.actions:
            seconds = state.slowmode_before.get(channel, 0) if ending else rules.slowmode_seconds
            built.append(
                SetSlowmode(id=aid("slowmode", channel), channel=channel, seconds=seconds, **common)
            )
        if "lock" in state.actions:
            built.append(
                LockChannel(id=aid("lock", channel), channel=channel, locked=not ending, **common)
            )
    if "alert" in state.actions:
        if ending:
            text = (
                f"✅ Raid mode ended ({state.reason}). Slowmode and locks it set are undone; "
                "new members' messages are judged as usual again."
            )
        else:
            pings = "".join(f"<@&{role}> " for role in ping_roles)
            text = (
                f"{pings}🚨 Raid mode on: {state.reason}. {_did(state, rules)}. It ends by "
                f"itself after {human_duration(rules.quiet_after)} without such joins; "
                "`/mod raid off` ends it now."
            )
        built.append(
            NotifyModerators(
                id=aid("notify"), channel=next(iter(state.channels), "0"), text=text,
                ping_roles=() if ending else ping_roles, critical=not ending, **common,
            )
        )  # fmt: skip
    return built


class RaidDesk:
    """Raid mode per tenant: joins in, actions out, and the moderators' switch."""

    def __init__(
        self,
        *,
        redis: aioredis.Redis,
        streams: Streams,
        moderation: Moderation,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self._redis = redis
        self._streams = streams
        self._moderation = moderation
        self.book = RaidBook(redis=redis, streams=streams)
        self._clock = clock or _now

    async def _publish(self, actions: list[Action]) -> None:
        if not actions:
            return
        # one tenant's actions: one partition's stream, so one slot for the transaction
        async with self._redis.pipeline(transaction=True) as pipe:
            for action in actions:
                tenant = Tenant(platform=action.platform, workspace=action.workspace)
                stream = self._streams.of(tenant).actions(action.platform)
                pipe.xadd(stream, {"action": action.model_dump_json()})
            await pipe.execute()

    async def joined(
        self,
        join: Join,
        rules: RaidProtection,
        *,
        channels: tuple[str, ...] = (),
        slowmode_before: dict[str, int] | None = None,
        ping_roles: tuple[str, ...] = (),
    ) -> JoinCount:
        """Count a member's join; when it starts raid mode, publish what raid mode does.
        Raises RedisError."""
        count = await self.book.join(
            join, rules, channels=channels, slowmode_before=slowmode_before
        )
        if count.started is not None:
            await self._publish(raid_actions(count.started, rules, ending=False,
                                             ping_roles=ping_roles))  # fmt: skip
        return count

    async def end_quiet(self, platform: str) -> list[RaidState]:
        """End the raid modes of ``platform`` quiet long enough, and undo what they did."""
        ended = await self.book.end_quiet(now=self._clock(), platform=platform)
        for state in ended:
            rules = (await self._moderation.policy_of(state.tenant)).raid
            await self._publish(raid_actions(state, rules, ending=True))
        return ended

    async def turn_on(
        self,
        actor: Actor,
        *,
        channels: tuple[str, ...] = (),
        slowmode_before: dict[str, int] | None = None,
        ping_roles: tuple[str, ...] = (),
    ) -> RaidState | None:
        """A moderator turns raid mode on (it ends by itself when quiet, as an automatic one);
        None when it is on already.

        Raises:
            PermissionDenied: the actor does not moderate their tenant.
            RedisError: Redis is unreachable.
        """
        await self._moderation.check_moderator(actor, "turn raid mode on")
        rules = (await self._moderation.policy_of(actor.tenant)).raid
        now = self._clock()
        state = RaidState(
            tenant=actor.tenant,
            raid_id=str(int(now.timestamp() * 1000)),
            started_at=now,
            started_by=actor.label(),
            reason=f"turned on by {actor.name or actor.label()}",
            actions=rules.actions,
            channels=channels,
            slowmode_before=slowmode_before or {},
        )
        if not await self.book.start(state, quiet_after=rules.quiet_after):
            return None
        await self._publish(raid_actions(state, rules, ending=False, ping_roles=ping_roles))
        return await self.book.state(actor.tenant)

    async def turn_off(self, actor: Actor) -> RaidState | None:
        """A moderator ends raid mode now and its slowmode and locks are undone; None when it
        was off. Raises PermissionDenied, RedisError."""
        await self._moderation.check_moderator(actor, "turn raid mode off")
        state = await self.book.end(actor.tenant, now=self._clock(), force=True)
        if state is not None:
            rules = (await self._moderation.policy_of(actor.tenant)).raid
            await self._publish(raid_actions(state, rules, ending=True))
        return state

    async def status(self, actor: Actor) -> RaidState | None:
        """The actor's tenant's raid mode; None when off. Raises PermissionDenied, RedisError."""
        await self._moderation.check_moderator(actor, "see raid mode")
        return await self.book.state(actor.tenant)
