"""The policy desk: try the policy on a text, ask the frontier model, reload the policy, switch
shadow mode, read the stats. Each acts on the actor's own tenant only."""

from __future__ import annotations

import asyncio

from bot.case import CaseStatus
from bot.errors import InvalidRequest, PermissionDenied, PolicyError, PolicyRejected
from bot.faq.entries import load_faqs
from bot.message import Author, Message
from bot.pipeline.assessment import Assessment
from bot.policy import Policy, load_policy
from bot.review.actor import Actor
from bot.review.core import ServiceCore
from bot.review.opinion import Opinion
from bot.stats import MAX_DAYS, Stats, day_of
from bot.streams import read_decision
from bot.tenant import Tenant
from bot.verdict import Verdict

__all__ = ["PolicyDesk"]


def _verdict(judged: Assessment) -> Verdict:
    if judged.verdict is None:
        raise RuntimeError("the judge produced no verdict; is the decide stage missing?")
    return judged.verdict


class PolicyDesk(ServiceCore):
    # -- shadow mode (bot.review.shadow) ------------------------------------------------

    async def set_shadow(
        self, actor: Actor, on: bool, *, channel: str | None = None, category: str | None = None
    ) -> None:
        """Switch shadow mode on or off at run time in the actor's tenant: for everything,
        a channel or a category.

        Persisted in Redis, it applies to every worker and dispatcher at once. It adds to what
        the policy file says; a policy file with ``shadow: true`` is turned off in the file.
        """
        tenant = await self._require_moderator(actor, "switch shadow mode")
        if category is not None and category not in self.policy_for(tenant).categories:
            raise InvalidRequest(f"unknown category {category!r}")
        await self._shadow.switch(tenant, actor.label(), on, channel=channel, category=category)

    async def shadow_state(self, actor: Actor) -> dict[str, bool]:
        """Where shadow mode is on in the actor's tenant: 'all', 'channel:<id>',
        'category:<name>' (runtime and policy file)."""
        tenant = await self._require_moderator(actor, "see shadow mode")
        return await self._shadow.state(tenant, self.policy_for(tenant))

    # -- stats ----------------------------------------------------------------------------

    async def stats(self, actor: Actor, *, days: int = 7) -> Stats:
        """The actor's tenant's numbers over the last ``days`` UTC days, today included:
        volumes, routes, actions, escalations and cost, reviewer agreement, time to decision;
        with the queue, cases by status and labelled examples as they are now.

        Raises:
            PermissionDenied: the actor is not a moderator.
            InvalidRequest: ``days`` is outside 1..MAX_DAYS.
        """
        tenant = await self._require_moderator(actor, "see stats")
        if not 1 <= days <= MAX_DAYS:
            raise InvalidRequest(f"a stats window is 1 to {MAX_DAYS} days, not {days}")
        now = self._clock()
        counts = await self._stats.window(tenant, days=days, until=now)
        keys = self.keys.tenant(tenant)
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.zcard(keys.queue)
            for status in CaseStatus:
                pipe.zcard(keys.status(status.value))
            pipe.xlen(keys.labels)
            sizes = await pipe.execute()
        statuses = {s.value: int(n) for s, n in zip(CaseStatus, sizes[1:-1], strict=True)}
        return Stats.of(
            counts,
            days=days,
            until=day_of(now),
            queue=int(sizes[0]),
            statuses=statuses,
            labelled_examples=int(sizes[-1]),
        )

    # -- the policy -----------------------------------------------------------------------

    async def test(self, actor: Actor, text: str) -> Verdict:
        """Decide a text under the actor's tenant's policy without acting or recording, as
        the pipeline would (with the FAQ answer it would give, in ``classification.faq``).

        Flood and duplicate counters are not consulted (they need a conversation), and nothing
        is sent to the frontier model (an ``escalate`` route says it would be)."""
        return _verdict(await self.preview(actor, text))

    async def preview(self, actor: Actor, text: str) -> Assessment:
        """What :meth:`test` decides, with the actions the pipeline would emit (the FAQ
        answer's reply among them)."""
        await self._require_moderator(actor, "test the policy")
        message = Message(
            platform=actor.platform,
            workspace=actor.workspace,
            channel="policy-test",
            id="policy-test",
            author=Author(id="policy-test"),
            text=text,
        )
        [judged] = await (await self.judge_for(actor.tenant)).judge([message])
        return judged

    async def _judge(self, message: Message) -> Verdict:
        """The verdict the pipeline would give the message, committing nothing."""
        [judged] = await (await self.judge_for(Tenant.of(message))).judge([message])
        return _verdict(judged)

    async def ask(self, actor: Actor, message: Message) -> Opinion:
        """The frontier model's opinion on an existing message, with its thread (``/mod ask``).

        The small model's verdict is the one the pipeline stored for the message when its text
        is unchanged, else it is decided now. When escalation is off or no API key is set the
        opinion says so, with the small model's verdict only.

        Raises:
            PermissionDenied: the actor does not moderate the message's tenant.
            CaseConflict: the message's case kept changing while the answer was recorded.
        """
        tenant = await self._require_moderator(actor, "ask the frontier model")
        if Tenant.of(message) != tenant:
            raise PermissionDenied(actor.label(), "ask about a message of another workspace")
        stored = await read_decision(self._redis, self._streams, message.key)
        if stored is not None and stored[0].text == message.text:
            link = message.permalink or stored[0].permalink
            message, small = stored[0].model_copy(update={"permalink": link}), stored[1]
        else:
            small = await self._judge(message)
        policy = await self._policies.current_one(tenant)
        return await self._opinions.ask(actor, message, small, policy)

    async def policy_of(self, tenant: Tenant) -> Policy:
        """The tenant's current policy, read now: what an adapter reads per event (the
        moderators' channel, the categories a moderator picks from, AutoMod's terms).

        Raises:
            RedisError: Redis cannot answer.
        """
        return await self._policies.current_one(tenant)

    async def reload_policy(self, actor: Actor) -> str:
        """Reload the actor's tenant's policy file (its own, else the default one, which then
        changes for every tenant without their own) and make it the current version for every
        worker; returns the new version. A bad file keeps the old one.

        Raises:
            PermissionDenied: the actor is not a moderator.
            PolicyRejected: the file has a mistake (carries the PolicyError).
            InvalidRequest: this service was built without a policy file.
        """
        tenant = await self._require_moderator(actor, "reload the policy")
        path = self._policies.path_for(tenant)
        if path is None:
            raise InvalidRequest("this service has no policy file to reload")
        try:
            policy: Policy = await asyncio.to_thread(load_policy, path)
            if policy.faq.file is not None:  # a bad FAQ file is refused here, not per batch
                await asyncio.to_thread(load_faqs, policy.faq.file)
        except PolicyError as exc:
            raise PolicyRejected(exc) from exc
        await self._policies.publish(tenant, policy, by=actor.label(), at=self._clock())
        return policy.version
