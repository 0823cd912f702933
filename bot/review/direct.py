"""The moderator's toolkit: direct actions (warn, timeout, kick, ban, purge, slowmode, lock
and their undoing), staff notes and a member's mod log.

A direct action is a case opened and decided by the moderator at once: it is written, with
its history, its action records and the actions themselves, by the store's one atomic script
(:mod:`bot.review.store`), so the actions reach the platform's actions stream exactly when the
case exists, and the dispatcher performs each once by its id (``case-<id>-direct-<what>``).
The case's dedupe token is the platform's id of the command, so a command delivered twice
acts once. Moderators' own actions are never silenced by shadow mode.

The case's message is the one a context-menu command was used on, else a stand-in with no
text in the channel acted on, written by the member (a channel action's stand-in author is
``channel:<id>``), so the case sits in the member's history and the channel's. A temporary
ban's unban is held (:mod:`bot.due`) and released by the dispatcher when due.

Notes are not cases: a member may read the cases about them (to appeal), never a note.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from bot.action import (
    Action,
    BanUser,
    KickUser,
    LiftSanction,
    LockChannel,
    PurgeMessages,
    SetSlowmode,
    TimeoutUser,
    WarnUser,
)
from bot.case import Case, CaseEvent, CaseStatus
from bot.due import DueActions
from bot.errors import InvalidRequest
from bot.message import Author, Message
from bot.review.actor import Actor
from bot.review.core import ServiceCore
from bot.review.notices import ACTION_ID_PREFIX, human_duration
from bot.review.planning import DecisionPlanner, count_actions
from bot.review.store import Change
from bot.review.toolkit import (
    CHANNEL_KINDS,
    MEMBER_KINDS,
    OPERATIONS,
    DirectOutcome,
    DirectRequest,
    ModLog,
    ModLogEntry,
    Note,
)
from bot.tenant import Tenant
from bot.verdict import Route, Verdict

__all__ = ["DirectDesk"]

_LIVE = ("emitted", "performed")
_MODLOG_CASES = 500


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class DirectDesk(ServiceCore):
    async def check_moderator(self, actor: Actor, operation: str) -> None:
        """Raises PermissionDenied unless the actor moderates their own tenant."""
        await self._require_moderator(actor, operation)

    async def act(self, actor: Actor, request: DirectRequest) -> DirectOutcome:
        """Record a direct action as a case decided by the moderator, and publish its actions.

        Raises:
            PermissionDenied: the actor does not moderate their tenant.
            InvalidRequest: a member action without a member, one on the moderator
                themselves, or a message of another tenant.
            RedisError: Redis is unreachable.
        """
        kind = request.kind
        tenant = await self._require_moderator(actor, OPERATIONS[kind])
        self._check(actor, tenant, request)
        token = f"direct:{tenant}:{request.request_id}"
        found = await self.store.existing(token, tenant)
        if found is not None:
            return DirectOutcome(case=await self.store.load(found, tenant), repeated=True)
        now = self._clock()
        case = Case(
            id=await self.store.next_id(tenant),
            message=self._message_of(tenant, request, now),
            verdict=Verdict(message_key="-", route=Route.ACT, stage="direct"),
            status=CaseStatus.ACTIONED,
            opened_at=now,
            source="direct",
            decided_by=actor.label(),
            decision=kind,
            version=1,
        )
        lift_channel = await self._sanctioned_channel(tenant, request)
        actions = self._actions(case, request, lift_channel)
        held: LiftSanction | None = None
        until = None
        if kind == "ban" and request.duration_s:
            until = now + timedelta(seconds=request.duration_s)
            reason = f"temporary ban of case {case.id} ended"
            held = self._lift(case, "ban", reason, lift_channel)
        case = case.model_copy(
            update={
                "verdict": Verdict(
                    message_key=case.message.key,
                    route=Route.ACT,
                    stage="direct",
                    policy_version=self.policy_for(tenant).version,
                    decided_at=now,
                    action_ids=tuple(a.id for a in actions),
                    action_types=tuple(a.type for a in actions),
                )
            }
        )
        said = f" ({request.reason})" if request.reason else ""
        applied = await self.store.apply(
            Change(
                case=case,
                create_token=token,
                events=(
                    CaseEvent(at=now, actor=actor.label(), kind="decided", detail=f"{kind}{said}"),
                ),
                records=tuple(
                    DecisionPlanner.record(a, actor, now)
                    for a in (*actions, *([held] if held else []))
                ),
                emit=tuple(a.model_dump_json() for a in actions),
                stats=count_actions(list(actions), {}),
            )
        )
        if applied.outcome != "applied":  # the same request, a moment earlier
            again = await self.store.load(applied.case_id, tenant)
            return DirectOutcome(case=again, repeated=True)
        due = DueActions(redis=self._redis, streams=self._streams)
        if held is not None and until is not None:
            await due.hold(held, until=until)
        elif kind in ("unban", "untimeout"):
            # a sanction lifted early is not lifted again when its time comes
            for moot in await self._held_lifts(tenant, request):
                await due.cancel(tenant, moot)
        done = await self.store.load(case.id, tenant)
        return DirectOutcome(case=done, actions=actions, until=until)

    def _check(self, actor: Actor, tenant: Tenant, request: DirectRequest) -> None:
        kind = request.kind
        if kind in MEMBER_KINDS and request.member is None:
            raise InvalidRequest(f"{kind} needs a member")
        if kind in MEMBER_KINDS and request.member == actor.user_id:
            raise InvalidRequest(f"you cannot {kind} yourself")
        if kind == "purge" and request.count is None:
            raise InvalidRequest("purge needs how many messages (1-500)")
        if request.message is not None and Tenant.of(request.message) != tenant:
            raise InvalidRequest("that message belongs to another workspace")

    @staticmethod
    def _message_of(tenant: Tenant, request: DirectRequest, now: Any) -> Message:
        if request.message is not None:
            return request.message
        if request.kind in CHANNEL_KINDS and request.member is None:
            author = Author(id=f"channel:{request.channel}")
        else:
            author = Author(id=request.member or "-", name=request.member_name)
        return Message(
            platform=tenant.platform,
            workspace=tenant.workspace,
            channel=request.channel,
            id=f"direct-{request.request_id}",
            author=author,
            text="",
            ts=now,
        )

    async def _member_cases(self, tenant: Tenant, member: str, limit: int = 50) -> list[Case]:
        key = self.keys.tenant(tenant).user(member)
        ids = await self.store.ids(key, limit=limit, newest_first=True)
        return await self.store.load_many(ids, tenant)

    async def _held_lifts(self, tenant: Tenant, request: DirectRequest) -> list[str]:
        """Ids of the held lifts an early unban or untimeout makes moot: a temporary ban's
        unban, a Slack timeout's return (``<timeout action id>-return``)."""
        held = []
        for case in await self._member_cases(tenant, request.member or ""):
            if request.kind == "unban":
                held.append(f"{ACTION_ID_PREFIX}{case.id}-direct-lift-ban")
            else:
                held += [f"{r.id}-return" for r in case.actions if r.type == "timeout"]
        return held

    async def _sanctioned_channel(self, tenant: Tenant, request: DirectRequest) -> str:
        """Where a lift acts: the channel of the member's latest live timeout or ban (on
        Slack a "timeout" is a removal from that channel), else the request's."""
        wanted = {"untimeout": "timeout", "unban": "ban"}.get(request.kind)
        if wanted is None or request.member is None:
            return request.channel
        for case in await self._member_cases(tenant, request.member):
            if any(r.type == wanted and r.state in _LIVE for r in case.actions):
                return case.message.channel
        return request.channel

    @staticmethod
    def _common(case: Case, channel: str | None = None) -> dict[str, Any]:
        message = case.message
        return {
            "platform": message.platform,
            "workspace": message.workspace,
            "channel": channel or message.channel,
            "message_id": message.id,
            "user_id": message.author.id,
            "message_key": message.key,
            "case_id": case.id,
        }

    def _lift(self, case: Case, sanction: str, reason: str, channel: str) -> LiftSanction:
        return LiftSanction(
            id=f"{ACTION_ID_PREFIX}{case.id}-direct-lift-{sanction}",
            sanction="ban" if sanction == "ban" else "timeout",
            reason=reason,
            **self._common(case, channel),
        )

    def _actions(self, case: Case, request: DirectRequest, lift_channel: str) -> tuple[Action, ...]:
        kind = request.kind
        reason = f"moderator {case.decided_by}" + (f": {request.reason}" if request.reason else "")
        common = self._common(case)

        def ident(what: str) -> str:
            return f"{ACTION_ID_PREFIX}{case.id}-direct-{what}"

        def notice(what: str) -> WarnUser:
            text = (
                f"Case {case.id}: a moderator {what}."
                + (f" Reason: {request.reason}" if request.reason else "")
                + f" You can appeal case {case.id}."
            )
            quote = case.message.text[:300]
            return WarnUser(
                id=ident("notice"), text=text, quote=quote, reason=reason, dm=True, **common
            )

        match kind:
            case "warn":
                return (notice("warned you"),)
            case "timeout":
                seconds = request.timeout_s
                return (
                    TimeoutUser(id=ident("timeout"), duration_s=seconds, reason=reason, **common),
                    notice(f"timed you out for {human_duration(seconds)}"),
                )
            case "untimeout":
                return (self._lift(case, "timeout", reason, lift_channel),)
            case "kick":
                return (
                    notice("removed you from the community"),
                    KickUser(id=ident("kick"), reason=reason, **common),
                )
            case "ban":
                span = request.duration_s
                return (
                    notice("banned you" + (f" for {human_duration(span)}" if span else "")),
                    BanUser(
                        id=ident("ban"),
                        delete_message_seconds=request.delete_message_seconds,
                        reason=reason,
                        **common,
                    ),
                )
            case "unban":
                return (self._lift(case, "ban", reason, lift_channel),)
            case "purge":
                return (
                    PurgeMessages(
                        id=ident("purge"),
                        count=request.count or 1,
                        only_user=request.member,
                        containing=request.containing,
                        reason=reason,
                        **common,
                    ),
                )
            case "slowmode":
                return (
                    SetSlowmode(
                        id=ident("slowmode"), seconds=request.seconds or 0, reason=reason, **common
                    ),
                )
            case "lock" | "unlock":
                return (
                    LockChannel(id=ident(kind), locked=kind == "lock", reason=reason, **common),
                )
        raise InvalidRequest(f"unknown direct action {kind!r}")  # pragma: no cover

    # -- notes and the mod log ------------------------------------------------------------

    async def note(self, actor: Actor, member: str, text: str, *, request_id: str) -> Note:
        """Add a staff-only note on a member; the same request adds it once.

        Raises:
            PermissionDenied: the actor does not moderate their tenant.
            InvalidRequest: the note is empty or over 2,000 characters.
        """
        tenant = await self._require_moderator(actor, "write notes on members")
        text = text.strip()
        if not text or len(text) > 2000:
            raise InvalidRequest("a note is 1 to 2,000 characters")
        key = self.keys.tenant(tenant).notes(member)
        for raw in await self._redis.lrange(key, 0, -1):
            earlier = Note.model_validate_json(raw)
            if earlier.id == request_id:
                return earlier
        note = Note(id=request_id, member=member, by=actor.label(), at=self._clock(), text=text)
        await self._redis.rpush(key, note.model_dump_json())
        return note

    async def modlogs(
        self, actor: Actor, member: str, *, page: int = 1, per_page: int = 10
    ) -> ModLog:
        """A member's cases (the latest 500) and notes, newest first, one page of them.

        Raises:
            PermissionDenied: the actor does not moderate their tenant (notes are staff-only,
                so not even a member's own log is shown to them).
        """
        tenant = await self._require_moderator(actor, "see a member's mod log")
        keys = self.keys.tenant(tenant)
        cases = await self._member_cases(tenant, member, limit=_MODLOG_CASES)
        notes = [Note.model_validate_json(_text(n)) for n in await self._redis.lrange(
            keys.notes(member), 0, -1
        )]  # fmt: skip
        entries = sorted(
            [ModLogEntry(at=c.opened_at, case=c) for c in cases]
            + [ModLogEntry(at=n.at, note=n) for n in notes],
            key=lambda e: e.at,
            reverse=True,
        )
        pages = max(1, -(-len(entries) // per_page))
        page = min(max(page, 1), pages)
        sanctions: dict[str, int] = {}
        for case in cases:
            for record in case.actions:
                if record.state in _LIVE and record.type in ("timeout", "kick", "ban", "lift"):
                    sanctions[record.type] = sanctions.get(record.type, 0) + 1
        return ModLog(
            member=member,
            entries=tuple(entries[(page - 1) * per_page : page * per_page]),
            page=page,
            pages=pages,
            cases=len(cases),
            notes=len(notes),
            sanctions=sanctions,
        )
