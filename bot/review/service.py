"""The one platform-free moderation service: cases, the review queue, strikes and appeals.

Slack and Discord adapters and the operators' CLI only parse, call one operation and render.
Permission checks happen here, not in the UI. Storage and atomicity: :mod:`bot.review.store`.

Case life::

    open ──claim──> open (claimed) ──decide remove|warn|timeout|kick|ban──> actioned
      └──────────────────────────────decide dismiss──────────────────────> dismissed
    actioned ──member appeals──> appealed ──overturn──> overturned  (sanctions lifted)
                                          └──uphold───> actioned    (appeal closed)
    actioned ──overturn (a moderator, without an appeal)──> overturned

A pipeline verdict that acted opens its case as *actioned*; one in the review band (or any
verdict in shadow mode) opens it as *open*, in the queue. Moderators' decisions execute even in
shadow mode: shadow mode silences the bot, not the people.

``decide`` writes the decision and publishes the actions it calls for to the platform's
actions stream in one atomic step, with stable ids ``case-<id>-<version>-<type>``; the action
dispatcher performs each once. ``decide`` also returns them, for display. Do not perform
the returned actions yourself.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

import redis.asyncio as aioredis

from bot.action import Action, OpenCase, TimeoutUser, action_id
from bot.case import Case, CaseAction, CaseEvent, CaseStatus
from bot.classifiers.base import Classifier
from bot.errors import (
    CaseConflict,
    CaseNotFound,
    InvalidRequest,
    PermissionDenied,
    PolicyError,
    PolicyRejected,
)
from bot.escalation.record import EscalationStore
from bot.escalation.stage import EscalateStage
from bot.message import Author, Message
from bot.pipeline.classify import model_evidence
from bot.pipeline.decide import decide as decide_verdict
from bot.pipeline.language import LanguageDetector
from bot.pipeline.rules import RuleBook
from bot.policy import Policy, load_policy
from bot.review.actor import Actor
from bot.review.decision import Decision
from bot.review.notices import ActionFactory
from bot.review.opinion import Opinion, SecondOpinions
from bot.review.planning import SYSTEM, DecisionPlanner
from bot.review.shadow import ShadowSwitch
from bot.review.store import Applied, CaseStore, Change
from bot.streams import Streams, read_decision
from bot.verdict import Route, Verdict

__all__ = ["ModerationService"]

_MAX_APPEAL_CHARS = 2000


def _now() -> datetime:
    return datetime.now(UTC)


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class ModerationService:
    """Implements :class:`bot.review.interface.Moderation` on Redis.

    Collaborators come in keyword-only: the Redis client, the stream names, the policy in force
    (and the file it came from, for ``reload_policy``), the classifier ``test`` uses (rules only
    when None) and the language detector beside it, the escalate stage ``ask`` sends through
    (None: escalation off), and a clock (tests pass their own).
    """

    def __init__(
        self,
        *,
        redis: aioredis.Redis,
        streams: Streams,
        policy: Policy,
        policy_path: Path | None = None,
        classifier: Classifier | None = None,
        languages: LanguageDetector | None = None,
        escalation: EscalateStage | None = None,
        clock: Callable[[], datetime] = _now,
        claim_ttl_s: int = 1800,
        stream_maxlen: int = 100_000,
    ) -> None:
        self._redis = redis
        self._streams = streams
        self._policy = policy
        self._policy_path = policy_path
        self._classifier = classifier
        self._languages = languages
        self._clock = clock
        self._claim_ttl = timedelta(seconds=claim_ttl_s)
        self.store = CaseStore(redis=redis, streams=streams, maxlen=stream_maxlen)
        self.keys = self.store.keys
        self._shadow = ShadowSwitch(redis=redis, streams=streams, keys=self.keys)
        self._escalations = EscalationStore(redis=redis, streams=streams)
        self._opinions = SecondOpinions(store=self.store, escalation=escalation, clock=clock)

    @property
    def policy(self) -> Policy:
        return self._policy

    # -- permissions ----------------------------------------------------------------------

    def is_moderator(self, actor: Actor) -> bool:
        mods = self._policy.moderators
        return (
            actor.is_admin
            or any(role in mods.roles for role in actor.roles)
            or actor.user_id in mods.users
            or actor.label() in mods.users
        )

    def _require_moderator(self, actor: Actor, operation: str) -> None:
        if not self.is_moderator(actor):
            raise PermissionDenied(actor.label(), operation)

    # -- opening cases --------------------------------------------------------------------

    async def open_case(self, action: OpenCase, message: Message, verdict: Verdict) -> Case:
        """Record the case an OpenCase action asks for (idempotent on the action id).

        A verdict that acted opens an *actioned* case and adds the category's strike points;
        one in the review band, or in shadow mode, waits in the queue.
        """
        token = action.id
        found = await self.store.existing(token)
        if found is not None:
            return await self.store.load(found)
        now = self._clock()
        category = verdict.category or action.category
        shadow = verdict.shadow or await self._runtime_shadow(message.channel, category)
        acted = verdict.route is Route.ACT and not shadow
        escalated = await self._escalations.load(message.key)
        case = Case(
            id=await self.store.next_id(),
            message=message,
            verdict=verdict,
            status=CaseStatus.ACTIONED if acted else CaseStatus.OPEN,
            opened_at=now,
            category=category,
            shadow=shadow,
            version=1,
            escalation=escalated.for_case() if escalated else None,
        )
        records = await self._automatic_records(case, now)
        detail = f"route {verdict.route.value} by {verdict.stage}"
        if verdict.model:
            detail += f" ({verdict.model})"
        detail += f": {verdict.explain()}"
        events = [CaseEvent(at=now, actor=SYSTEM, kind="opened", detail=detail)]
        if shadow:
            would = ", ".join(r.type for r in records) or "nothing"
            events.append(
                CaseEvent(at=now, actor=SYSTEM, kind="shadow", detail=f"shadow mode: would {would}")
            )
        elif acted:
            done = ", ".join(f"{r.type} ({r.state})" for r in records) or "nothing"
            events.append(CaseEvent(at=now, actor=SYSTEM, kind="actioned", detail=done))
        stats = {
            "cases_opened": 1.0,
            f"route:{verdict.route.value}": 1.0,
            f"category:{category or 'none'}": 1.0,
        }
        if shadow:
            stats["cases_shadow"] = 1.0
        for record in records:
            stats[f"actions:{record.type}"] = stats.get(f"actions:{record.type}", 0.0) + 1
        strike = None
        if acted and category is not None:
            points = self._planner().points(category)
            if points:
                case = case.model_copy(update={"strike_points": points})
                strike = self._planner().strike_add(case, points, now)
                events.append(
                    CaseEvent(at=now, actor=SYSTEM, kind="strike", detail=f"+{points} points")
                )
        applied = await self.store.apply(
            Change(
                case=case,
                create_token=token,
                queue="" if acted else "add",
                queue_score=now.timestamp(),
                events=tuple(events),
                records=tuple(records),
                stats=stats,
                strike=strike,
            )
        )
        return await self.store.load(applied.case_id)

    async def report(self, reporter: Actor, message: Message, note: str = "") -> Case:
        """A member reports a message: it lands in the queue (one case per message)."""
        token = f"report:{message.key}"
        now = self._clock()
        detail = f"reported by {reporter.label()}" + (f": {note[:500]}" if note else "")
        found = await self.store.existing(token)
        if found is not None:
            await self.store.append(
                found,
                events=[CaseEvent(at=now, actor=reporter.label(), kind="reported", detail=detail)],
            )
            return await self.store.load(found)
        verdict = Verdict(
            message_key=message.key,
            route=Route.REVIEW,
            stage="report",
            policy_version=self._policy.version,
            decided_at=now,
        )
        escalated = await self._escalations.load(message.key)
        case = Case(
            id=await self.store.next_id(),
            message=message,
            verdict=verdict,
            opened_at=now,
            source="report",
            version=1,
            escalation=escalated.for_case() if escalated else None,
        )
        applied = await self.store.apply(
            Change(
                case=case,
                create_token=token,
                queue="add",
                queue_score=now.timestamp(),
                events=(CaseEvent(at=now, actor=reporter.label(), kind="reported", detail=detail),),
                stats={"cases_opened": 1.0, "route:report": 1.0, "category:none": 1.0},
            )
        )
        return await self.store.load(applied.case_id)

    async def _automatic_records(self, case: Case, now: datetime) -> list[CaseAction]:
        """What the pipeline did about the message, read back from the verdict and the
        dispatcher's done marks (the OpenCase action comes after the others on the stream)."""
        verdict = case.verdict
        category = case.category
        if verdict.route is not Route.ACT or category not in self._policy.categories:
            return []
        rule = verdict.evidence[0].rule if verdict.evidence else ""
        spec = self._policy.categories[category]
        records = []
        for kind in spec.on_act:
            if kind == "open_case":
                continue
            aid = action_id(case.message.key, kind, rule)
            if case.shadow:
                state: Literal["emitted", "performed", "shadow"] = "shadow"
            elif aid not in verdict.action_ids:
                continue
            elif await self._redis.exists(self._streams.done(aid)):
                state = "performed"
            else:
                state = "emitted"
            records.append(
                CaseAction(
                    id=aid,
                    type=kind,
                    by=SYSTEM,
                    at=now,
                    state=state,
                    duration_s=spec.timeout if kind == "timeout" else None,
                )
            )
        return records

    # -- reading --------------------------------------------------------------------------

    async def queue(self, actor: Actor, *, limit: int = 10) -> list[Case]:
        """Open and appealed cases waiting for review, oldest first."""
        self._require_moderator(actor, "see the review queue")
        ids = await self.store.ids(self.keys.queue, limit=limit)
        return await self.store.load_many(ids)

    async def case(self, actor: Actor, case_id: str) -> Case:
        """A moderator sees any case; a member sees the cases about their own messages."""
        case = await self.store.load(case_id)
        if not self.is_moderator(actor) and not self._is_author(actor, case):
            # Do not tell a stranger whether the case exists.
            raise CaseNotFound(case_id)
        return case

    async def history(self, actor: Actor, user_id: str, *, limit: int = 20) -> list[Case]:
        """A member's cases in the actor's workspace, newest first."""
        if actor.user_id != user_id:
            self._require_moderator(actor, "see another member's history")
        key = self.keys.user(actor.platform, actor.workspace, user_id)
        return await self.store.load_many(await self.store.ids(key, limit=limit, newest_first=True))

    async def channel_cases(self, actor: Actor, channel: str, *, limit: int = 20) -> list[Case]:
        """Cases about messages in one channel, newest first."""
        self._require_moderator(actor, "see a channel's cases")
        key = self.keys.channel(actor.platform, actor.workspace, channel)
        return await self.store.load_many(await self.store.ids(key, limit=limit, newest_first=True))

    async def strikes(self, actor: Actor, user_id: str) -> int:
        """The member's strike points inside the policy's window."""
        if actor.user_id != user_id:
            self._require_moderator(actor, "see another member's strikes")
        cutoff = self._clock().timestamp() - self._policy.strikes.window
        key = self.keys.strikes(actor.platform, actor.workspace, user_id)
        members = [_text(m) for m in await self._redis.zrangebyscore(key, cutoff, "+inf")]
        if not members:
            return 0
        points_key = self.keys.strike_points(actor.platform, actor.workspace, user_id)
        values = await self._redis.hmget(points_key, members)
        return sum(int(_text(v)) for v in values if v is not None)

    # -- claiming and deciding ------------------------------------------------------------

    def _claimed_by_other(self, case: Case, actor: Actor, now: datetime) -> bool:
        return (
            case.claimed_by is not None
            and case.claimed_by != actor.label()
            and case.claimed_at is not None
            and now - case.claimed_at < self._claim_ttl
        )

    async def claim(self, actor: Actor, case_id: str) -> Case:
        """Take a case; a second moderator gets CaseConflict until the claim expires."""
        self._require_moderator(actor, "claim cases")
        case = await self.store.load(case_id)
        now = self._clock()
        if not case.awaiting_review:
            raise CaseConflict(case_id, self._planner().closed_reason(case))
        if self._claimed_by_other(case, actor, now):
            raise CaseConflict(case_id, f"already claimed by {case.claimed_by}")
        if case.claimed_by == actor.label():
            return case
        updated = case.model_copy(
            update={"claimed_by": actor.label(), "claimed_at": now, "version": case.version + 1}
        )
        event = CaseEvent(at=now, actor=actor.label(), kind="claimed")
        await self._commit(
            case,
            Change.of(
                case,
                updated,
                events=(event,),
            ),
        )
        return await self.store.load(case_id)

    async def decide(
        self, actor: Actor, case_id: str, decision: Decision
    ) -> tuple[Case, list[Action]]:
        """Record the decision, publish the actions it calls for, and return them.

        Raises:
            PermissionDenied: the actor is not a moderator.
            CaseNotFound: no such case.
            CaseConflict: claimed by another moderator, already decided, closed, or the
                decision does not apply to the case's status.
            InvalidRequest: an unknown category, or a sanction on a case with no category.
        """
        self._require_moderator(actor, "decide cases")
        case = await self.store.load(case_id)
        now = self._clock()
        if decision.category is not None and decision.category not in self._policy.categories:
            known = ", ".join(self._policy.categories)
            raise InvalidRequest(f"unknown category {decision.category!r}; use one of {known}")
        if self._claimed_by_other(case, actor, now):
            raise CaseConflict(case_id, f"claimed by {case.claimed_by}")
        change, actions = self._planner().plan(case, actor, decision, now)
        await self._commit(case, change)
        return await self.store.load(case_id), actions

    # -- appeals --------------------------------------------------------------------------

    async def appeal(self, member: Actor, case_id: str, text: str) -> Case:
        """The member whose message a case concerns appeals; it lands in the queue.

        Raises:
            CaseNotFound: no such case (or it is not about the member's message).
            InvalidRequest: the appeal is empty or too long.
            CaseConflict: nothing to appeal (open, dismissed), already appealed, or closed.
        """
        case = await self.store.load(case_id)
        if not self._is_author(member, case):
            raise CaseNotFound(case_id)
        text = text.strip()
        if not text:
            raise InvalidRequest("say why the decision was wrong: the appeal text is empty")
        if len(text) > _MAX_APPEAL_CHARS:
            raise InvalidRequest(f"an appeal is at most {_MAX_APPEAL_CHARS} characters")
        if case.status is CaseStatus.APPEALED:
            raise CaseConflict(case_id, "already appealed; a moderator will look at it")
        if case.status is CaseStatus.OPEN:
            raise CaseConflict(
                case_id, "no action was taken on this case; it is waiting for a moderator"
            )
        if case.status is not CaseStatus.ACTIONED:
            raise CaseConflict(case_id, self._planner().closed_reason(case))
        if case.appeal is not None:
            raise CaseConflict(case_id, "the appeal on this case was already decided (upheld)")
        now = self._clock()
        updated = case.model_copy(
            update={
                "status": CaseStatus.APPEALED,
                "appeal": text,
                "claimed_by": None,
                "claimed_at": None,
                "version": case.version + 1,
            }
        )
        factory = ActionFactory(case=updated, policy=self._policy)
        notify = factory.notify_moderators(
            f"{updated.version}-appeal",
            f"Appeal on case {case.id} by {member.label()}: {text[:500]}\n"
            f"Original decision: {case.decision or case.verdict.route.value} "
            f"({case.verdict.explain()})",
            reason=f"appeal by {member.label()}",
        )
        await self._commit(
            case,
            Change.of(
                case,
                updated,
                queue="add",
                queue_score=now.timestamp(),
                events=(CaseEvent(at=now, actor=member.label(), kind="appealed", detail=text),),
                records=(self._planner().record(notify, member, now),),
                actions=(notify,),
                stats={"appeals": 1.0},
            ),
        )
        return await self.store.load(case_id)

    # -- what became of actions (called by the action dispatcher) ------------------------

    async def record_outcome(
        self,
        action: Action,
        state: Literal["performed", "failed", "shadow"],
        detail: str = "",
    ) -> None:
        """Note on the action's case that the adapter performed it, or could not."""
        case_id = action.case_id or await self.store.case_for_message(action.message_key)
        if case_id is None:
            return
        now = self._clock()
        record = CaseAction(
            id=action.id,
            type=action.type,
            by=SYSTEM,
            at=now,
            state=state,
            duration_s=action.duration_s if isinstance(action, TimeoutUser) else None,
            detail=detail,
        )
        events = []
        if state == "failed":
            events.append(
                CaseEvent(
                    at=now,
                    actor=SYSTEM,
                    kind="action_failed",
                    detail=f"{action.type} could not be done: {detail}",
                )
            )
            await self._redis.hincrbyfloat(self.keys.stats, "actions_failed", 1.0)
        await self.store.append(case_id, records=[record], events=events)

    # -- shadow mode (bot.review.shadow) ------------------------------------------------

    async def set_shadow(
        self, actor: Actor, on: bool, *, channel: str | None = None, category: str | None = None
    ) -> None:
        """Switch shadow mode on or off at run time, for everything, a channel or a category.

        Persisted in Redis, it applies to every worker and dispatcher at once. It adds to what
        the policy file says; a policy file with ``shadow: true`` is turned off in the file.
        """
        self._require_moderator(actor, "switch shadow mode")
        if category is not None and category not in self._policy.categories:
            raise InvalidRequest(f"unknown category {category!r}")
        await self._shadow.switch(actor.label(), on, channel=channel, category=category)

    async def shadow_state(self) -> dict[str, bool]:
        """Where shadow mode is on: 'all', 'channel:<id>', 'category:<name>' (runtime and
        policy file)."""
        return await self._shadow.state(self._policy)

    async def _runtime_shadow(self, channel: str, category: str | None) -> bool:
        return await self._shadow.on(channel, category)

    async def shadowed(self, action: Action) -> bool:
        """Whether the dispatcher must skip an automatic action because shadow mode is on.

        Moderators' own decisions (ids starting ``case-``) are never silenced.
        """
        return await self._shadow.silences(action)

    # -- stats, policy --------------------------------------------------------------------

    async def stats(self, actor: Actor) -> dict[str, float]:
        """Volumes, actions, escalation share, reviewer agreement, time to decision, cost."""
        self._require_moderator(actor, "see stats")
        raw: Any = await self._redis.hgetall(self.keys.stats)
        stats = {_text(k): float(_text(v)) for k, v in raw.items()}
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.zcard(self.keys.queue)
            for status in CaseStatus:
                pipe.zcard(self.keys.status(status.value))
            pipe.xlen(self._streams.verdicts)
            pipe.xlen(self.keys.labels)
            counts = await pipe.execute()
        stats["queue"] = float(counts[0])
        for status, count in zip(CaseStatus, counts[1:-2], strict=True):
            stats[f"status:{status.value}"] = float(count)
        stats["messages_decided"] = float(counts[-2])
        stats["labelled_examples"] = float(counts[-1])
        opened = stats.get("cases_opened", 0.0)
        stats["escalation_share"] = stats.get("route:escalate", 0.0) / opened if opened else 0.0
        reviewed = stats.get("reviewed", 0.0)
        stats["reviewer_agreement"] = stats.get("agreed", 0.0) / reviewed if reviewed else 0.0
        decisions = stats.get("decisions", 0.0)
        stats["mean_seconds_to_decision"] = (
            stats.get("decision_seconds_total", 0.0) / decisions if decisions else 0.0
        )
        stats.setdefault("cost_usd", 0.0)
        return dict(sorted(stats.items()))

    async def test(self, actor: Actor, text: str) -> Verdict:
        """Decide a text under the current policy without acting or recording.

        Flood and duplicate counters are not consulted (they need a conversation)."""
        self._require_moderator(actor, "test the policy")
        message = Message(
            platform=actor.platform,
            workspace=actor.workspace,
            channel="policy-test",
            id="policy-test",
            author=Author(id="policy-test"),
            text=text,
        )
        return await self._judge(message)

    async def _judge(self, message: Message) -> Verdict:
        """The rules and the small model on one message, as a worker would decide it."""
        evidence = RuleBook(policy=self._policy).evidence(message)
        classification = None
        if self._classifier is not None and not message.is_blank:
            classification = (await self._classifier.classify([message.text]))[0]
            if self._languages is not None:
                [language] = await self._languages.detect_many([message.text])
                classification = classification.model_copy(update={"language": language})
            evidence += model_evidence(classification, self._policy, message.channel)
        verdict, _ = decide_verdict(message, evidence, classification, self._policy)
        return verdict

    # -- a second opinion (bot.review.opinion) -------------------------------------------

    async def ask(self, actor: Actor, message: Message) -> Opinion:
        """The frontier model's opinion on an existing message, with its thread (``/mod ask``).

        The small model's verdict is the one the pipeline stored for the message when its text
        is unchanged, else it is decided now. When escalation is off or no API key is set the
        opinion says so, with the small model's verdict only.

        Raises:
            PermissionDenied: the actor is not a moderator.
            CaseConflict: the message's case kept changing while the answer was recorded.
        """
        self._require_moderator(actor, "ask the frontier model")
        stored = await read_decision(self._redis, self._streams, message.key)
        if stored is not None and stored[0].text == message.text:
            link = message.permalink or stored[0].permalink
            message, small = stored[0].model_copy(update={"permalink": link}), stored[1]
        else:
            small = await self._judge(message)
        return await self._opinions.ask(actor, message, small, self._policy)

    async def reload_policy(self, actor: Actor) -> str:
        """Reload the policy file; returns the new version. A bad file keeps the old one.

        Raises:
            PolicyRejected: the file has a mistake (carries the PolicyError).
            InvalidRequest: this service was built without a policy file.
        """
        self._require_moderator(actor, "reload the policy")
        if self._policy_path is None:
            raise InvalidRequest("this service has no policy file to reload")
        try:
            policy = await asyncio.to_thread(load_policy, self._policy_path)
        except PolicyError as exc:
            raise PolicyRejected(exc) from exc
        self._policy = policy
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.hset(
                self.keys.policy,
                mapping={
                    "version": policy.version,
                    "by": actor.label(),
                    "at": self._clock().isoformat(),
                },
            )
            pipe.xadd(
                self.keys.audit,
                {"actor": actor.label(), "op": "policy_reload", "detail": policy.version},
            )
            await pipe.execute()
        return policy.version

    # -- helpers --------------------------------------------------------------------------

    def _is_author(self, actor: Actor, case: Case) -> bool:
        message = case.message
        return (
            actor.platform == message.platform
            and actor.workspace == message.workspace
            and actor.user_id == message.author.id
        )

    def _planner(self) -> DecisionPlanner:
        return DecisionPlanner(policy=self._policy, now=self._clock())

    async def _commit(self, before: Case, change: Change) -> Applied:
        """Apply a change; a concurrent change to the same case loses with CaseConflict."""
        applied = await self.store.apply(change)
        if applied.outcome == "applied":
            return applied
        if applied.outcome == "missing":
            raise CaseNotFound(before.id)
        current = await self.store.load(before.id)
        if current.status is not before.status or current.decided_by != before.decided_by:
            raise CaseConflict(before.id, self._planner().closed_reason(current))
        if current.claimed_by is not None and current.claimed_by != before.claimed_by:
            raise CaseConflict(before.id, f"claimed by {current.claimed_by}")
        raise CaseConflict(before.id, "changed while you were deciding; look again")
