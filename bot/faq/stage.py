"""Stage: answer allowed questions from the FAQ, after moderation has decided.

Runs after ``decide``. Only a message whose verdict routes it to ``allow`` (and that is not in
shadow mode, not from a bot, in a channel where answers are on, and that looks like a question)
is matched. A confident match appends a :class:`~bot.action.Reply` in the message's thread
with the approved answer and feedback buttons, records the match in the verdict's
classification, and claims the (thread, entry) pair so the bot never repeats itself there.
Everything else is left alone: a hand-off is silence, for a person to answer. With Redis,
a handed-off question is kept (redacted, ``faq.keep_questions_days``), and so are the allowed
replies in its thread, for ``faq suggest`` (:mod:`bot.faq.handoffs`).

The FAQ file is read again when it changes on disk (:meth:`FaqMatcher.refresh`, one ``stat``
per batch), so an entry added by ``faq add`` or an accepted suggestion answers from the next
batch of every worker that reads that file.

Built without Redis (a preview, :mod:`bot.pipeline.judge`) it matches the same way but claims
and keeps nothing, and only the policy switches answers on or off per channel.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence

import redis.asyncio as aioredis
import structlog
from redis.exceptions import RedisError

from bot.action import Reply, about, action_id
from bot.classification import Classification, FaqMatch
from bot.errors import ClassifierError, ConfigError
from bot.faq.channels import FaqChannels
from bot.faq.cooldown import ThreadCooldown
from bot.faq.entries import FaqFile
from bot.faq.handoffs import HandoffLog, thread_of
from bot.faq.keys import FaqKeys
from bot.faq.matcher import FaqDecision, FaqMatcher
from bot.faq.questions import looks_like_question
from bot.message import Message
from bot.pipeline.assessment import Assessment
from bot.policy import Policy
from bot.streams import Streams
from bot.tenant import Tenant
from bot.verdict import Route

__all__ = ["FaqStage"]

log = structlog.get_logger(__name__)


class FaqStage:
    name = "faq"

    def __init__(
        self,
        *,
        redis: aioredis.Redis | None,
        policy: Policy,
        streams: Streams,
        matcher: FaqMatcher,
        timeout_s: float = 10.0,
        max_chars: int = 2000,
        rebuild: Callable[[FaqFile], FaqMatcher] | None = None,
    ) -> None:
        """``rebuild``: the matcher for a new content of the file (the one ``faq train``
        fitted for exactly that content, else the closed-form one), called when the file
        changed on disk; without it the matcher in use reads the new entries itself."""
        self._policy = policy
        self._matcher = matcher
        self._rebuild = rebuild
        self._timeout_s = timeout_s
        self._max_chars = max_chars
        keys = FaqKeys(streams)
        # Without Redis (a preview) the policy alone switches channels and nothing is claimed.
        self._channels = FaqChannels(redis=redis, streams=streams) if redis is not None else None
        self._cooldown = (
            ThreadCooldown(redis=redis, keys=keys, seconds=policy.faq.cooldown)
            if redis is not None
            else None
        )
        self._handoffs = HandoffLog(redis=redis, streams=streams) if redis is not None else None

    @property
    def matcher(self) -> FaqMatcher:
        return self._matcher

    def _askable(self, item: Assessment) -> bool:
        verdict, message = item.verdict, item.message
        if verdict is None or verdict.route is not Route.ALLOW or verdict.shadow:
            return False
        if message.author.is_bot or message.is_blank:
            return False
        if self._policy.is_shadow(None, message.channel):
            return False
        return not self._policy.faq.questions_only or looks_like_question(message.text)

    async def run(self, batch: Sequence[Assessment]) -> list[Assessment]:
        out = list(batch)
        if await self._matcher.refresh() and self._rebuild is not None:
            # a matcher trained for the old content does not fit the new one
            try:
                self._matcher = self._rebuild(self._matcher.faqs)
            except ConfigError as exc:
                log.error(
                    "no matcher for the changed FAQ file; the one in use stays", error=str(exc)
                )
        handed_off: list[Message] = []
        asking = [i for i, item in enumerate(batch) if self._askable(item)]
        where = {_where(batch[i].message) for i in asking}
        if not asking:
            enabled: dict[tuple[Tenant, str], bool] = {}
        elif self._channels is None:
            enabled = {w: FaqChannels.by_policy(self._policy, w[1]) for w in where}
        else:
            enabled = await self._channels.enabled(self._policy, where)
        asking = [i for i in asking if enabled[_where(batch[i].message)]]
        if asking:
            texts = [batch[i].message.text[: self._max_chars] for i in asking]
            try:
                await self._matcher.prepare()  # once per process: embeds the FAQ's questions
                decisions = await asyncio.wait_for(self._matcher.match(texts), self._timeout_s)
            except (ClassifierError, TimeoutError) as exc:
                # A missed answer is a hand-off; moderation's verdict must still be committed.
                log.warning("faq matching failed, handing off", error=repr(exc), size=len(texts))
            else:
                for i, decision in zip(asking, decisions, strict=True):
                    out[i] = await self._answer(batch[i], decision)
                    if decision.faq_id is None:
                        handed_off.append(batch[i].message)
        await self._keep(batch, handed_off)
        return out

    async def _keep(self, batch: Sequence[Assessment], handed_off: Sequence[Message]) -> None:
        """Keep the handed-off questions and the allowed replies in their threads."""
        days = self._policy.faq.keep_questions_days
        if self._handoffs is None or days <= 0:
            return
        asked = {m.key for m in handed_off}  # a question asked again in a thread answers nothing
        replies = [
            item.message
            for item in batch
            if item.message.thread not in (None, item.message.id)
            and item.message.key not in asked
            and item.verdict is not None
            and item.verdict.route is Route.ALLOW
            and not item.message.author.is_bot
            and not item.message.is_blank
        ]
        # a reply in the same batch as its question: that question's thread is not marked yet
        asked_now = {(Tenant.of(m), thread_of(m)) for m in handed_off}
        try:
            open_threads = await self._handoffs.open_threads(replies)
            await self._handoffs.record(
                questions=handed_off,
                replies=[
                    (m, self._is_moderator(m))
                    for m, kept in zip(replies, open_threads, strict=True)
                    if kept or (Tenant.of(m), m.thread) in asked_now
                ],
                keep_days=days,
            )
        except RedisError as exc:  # suggestions are best effort; the verdicts are not
            log.warning("handed-off questions not kept", error=repr(exc), size=len(handed_off))

    def _is_moderator(self, message: Message) -> bool:
        """By the author's roles as the message carries them (Slack: ``usergroup:<handle>``,
        ``admin``; Discord: role names, lower-cased) or their id in ``moderators.users``."""
        mods = self._policy.moderators
        author = message.author
        return author.id in mods.users or any(role in mods.roles for role in author.roles)

    async def _answer(self, item: Assessment, decision: FaqDecision) -> Assessment:
        message = item.message
        if decision.faq_id is None or decision.best is None:
            log.debug("faq hand-off", message_key=message.key, reason=decision.reason)
            return item
        if self._cooldown is not None and not await self._cooldown.claim(message, decision.faq_id):
            log.info("faq already answered in this thread", message_key=message.key)
            return item
        entry = self._matcher.faqs.entry(decision.faq_id)
        reason = f"{decision.reason}, by {self._matcher.label}"
        reply = _reply(message, decision.faq_id, entry.answer, reason)
        found = FaqMatch(faq_id=decision.faq_id, score=decision.best.confidence)
        verdict = item.verdict
        if verdict is None:  # _askable only lets through assessments that have one
            return item
        classification = verdict.classification or item.classification
        if classification is None:
            classification = Classification(scores={}, model=self._matcher.name, faq=found)
        else:
            classification = classification.model_copy(update={"faq": found})
        verdict = verdict.model_copy(
            update={
                "classification": classification,
                "action_ids": (*verdict.action_ids, reply.id),
                "action_types": (*verdict.action_types, reply.type),
            }
        )
        return item.model_copy(
            update={
                "verdict": verdict,
                "classification": classification,
                "actions": (*item.actions, reply),
            }
        )


def _reply(message: Message, faq_id: str, answer: str, reason: str) -> Reply:
    return Reply(
        id=action_id(message.key, "reply", f"faq:{faq_id}"),
        **about(message, reason=f"faq {faq_id}: {reason}"),
        text=answer,
        thread=message.thread or message.id,
        feedback_buttons=True,
        faq_id=faq_id,
    )


def _where(message: Message) -> tuple[Tenant, str]:
    return Tenant.of(message), message.channel
