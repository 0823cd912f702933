"""Stage: answer allowed questions from the FAQ, after moderation has decided.

Runs after ``decide``. Only a message whose verdict routes it to ``allow`` (and that is not in
shadow mode, not from a bot, in a channel where answers are on, and that looks like a question)
is matched. A confident match appends a :class:`~bot.action.Reply` in the message's thread
with the approved answer and feedback buttons, records the match in the verdict's
classification, and claims the (thread, entry) pair so the bot never repeats itself there.
Everything else is left alone: a hand-off is silence, for a person to answer.

Built without Redis (a preview, :mod:`bot.pipeline.judge`) it matches the same way but claims
nothing, and only the policy switches answers on or off per channel.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import redis.asyncio as aioredis
import structlog

from bot.action import Reply, about, action_id
from bot.classification import Classification, FaqMatch
from bot.errors import ClassifierError
from bot.faq.channels import FaqChannels
from bot.faq.cooldown import ThreadCooldown
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
    ) -> None:
        self._policy = policy
        self._matcher = matcher
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
        asking = [i for i, item in enumerate(batch) if self._askable(item)]
        if not asking:
            return out
        where = {_where(batch[i].message) for i in asking}
        if self._channels is None:
            enabled = {w: FaqChannels.by_policy(self._policy, w[1]) for w in where}
        else:
            enabled = await self._channels.enabled(self._policy, where)
        asking = [i for i in asking if enabled[_where(batch[i].message)]]
        if not asking:
            return out
        texts = [batch[i].message.text[: self._max_chars] for i in asking]
        try:
            await self._matcher.prepare()  # once per process: embeds the FAQ's questions
            decisions = await asyncio.wait_for(self._matcher.match(texts), self._timeout_s)
        except (ClassifierError, TimeoutError) as exc:
            # A missed answer is a hand-off; moderation's verdict must still be committed.
            log.warning("faq matching failed, handing off", error=repr(exc), size=len(texts))
            return out
        for i, decision in zip(asking, decisions, strict=True):
            out[i] = await self._answer(batch[i], decision)
        return out

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
