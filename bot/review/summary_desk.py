"""The summary desk: a thread or a case in five lines for its tenant's moderators
(``/mod summary``), written by the configured summariser (:mod:`bot.insights.summary`)."""

from __future__ import annotations

from collections.abc import Sequence

from bot.errors import ClassifierError, InvalidRequest, PermissionDenied
from bot.escalation.redaction import Redactor
from bot.insights.summary import Thread, ThreadMessage, ThreadSummary
from bot.message import Message
from bot.review.actor import Actor
from bot.review.core import ServiceCore
from bot.streams import read_decision
from bot.tenant import Tenant
from bot.verdict import Route, Verdict

__all__ = ["MAX_MESSAGES", "MAX_TEXT_CHARS", "SummaryDesk", "redacted_thread"]

#: The most recent messages a summary reads (the case's message always among them).
MAX_MESSAGES = 50
#: Each message is cut to this many characters, after redaction (never before: a cut could
#: leave half an e-mail address the redaction would no longer recognise).
MAX_TEXT_CHARS = 1000


def _place(message: Message) -> tuple[str, str]:
    return message.channel, message.id


def redacted_thread(
    messages: Sequence[Message],
    verdicts: Sequence[Verdict],
    *,
    focus: Message | None = None,
    case_id: str | None = None,
) -> Thread:
    """The thread a summariser may read: each text redacted by one
    :class:`~bot.escalation.redaction.Redactor` (authors pseudonymised in order of first
    message, mentions and ``@name`` likewise; e-mails, phone numbers, tokens, ... replaced),
    cut to MAX_TEXT_CHARS, with the evidence of its verdict less the words that matched."""
    redactor = Redactor()
    for message in messages:
        redactor.add_participant(message.author)
    rows = []
    for index, (message, verdict) in enumerate(zip(messages, verdicts, strict=True)):
        evidence = tuple(
            e.model_copy(update={"matched": None, "span": None}) for e in verdict.evidence
        )
        rows.append(
            ThreadMessage(
                index=index,
                who=redactor.pseudonym(message.author.id),
                user=message.author.id,
                text=redactor.redact(message.text)[:MAX_TEXT_CHARS],
                route=verdict.route,
                evidence=evidence,
            )
        )
    where = _place(focus) if focus is not None else None
    index_of = next((i for i, m in enumerate(messages) if _place(m) == where), None)
    return Thread(messages=tuple(rows), focus=index_of, case_id=case_id)


class SummaryDesk(ServiceCore):
    async def summarise(
        self, actor: Actor, messages: Sequence[Message], *, case_id: str | None = None
    ) -> ThreadSummary:
        """The gist of ``messages`` (a thread or channel as the adapter fetched it), and of
        the case's message with them when ``case_id`` is given: the last MAX_MESSAGES by time,
        members' messages only, each redacted before the summariser sees it.

        A message's evidence is the verdict the pipeline stored for it when its text is
        unchanged, else what the tenant's current policy decides now (nothing is recorded).

        Raises:
            PermissionDenied: the actor does not moderate the messages' tenant.
            CaseNotFound: no such case in the actor's tenant.
            InvalidRequest: nothing to summarise, no summariser here, or it failed.
        """
        tenant = await self._require_moderator(actor, "summarise a thread")
        focus = None
        if case_id is not None:
            case = await self.store.load(case_id, tenant)
            await self._require_case(actor, case, "summarise a case")
            focus = case.message
            messages = [*messages, case.message]
        if any(Tenant.of(m) != tenant for m in messages):
            raise PermissionDenied(actor.label(), "summarise messages of another workspace")
        latest: dict[tuple[str, str], Message] = {}
        for message in messages:  # the adapter's copy is newer than the case's
            if not message.author.is_bot and not message.is_blank:
                latest.setdefault(_place(message), message)
        ordered = sorted(latest.values(), key=lambda m: (m.ts, m.id))
        thread = ordered[-MAX_MESSAGES:]
        kept = latest.get(_place(focus)) if focus is not None else None
        if kept is not None and kept not in thread:  # an old case: its message and the latest
            thread = sorted([*ordered[-(MAX_MESSAGES - 1) :], kept], key=lambda m: (m.ts, m.id))
        if not thread:
            raise InvalidRequest("there is nothing to summarise: no messages from members")
        if self._summariser is None:
            raise InvalidRequest("summaries are not set up in this modtriage process")
        verdicts = await self._verdicts(tenant, thread)
        policy = await self._policies.current_one(tenant)
        redacted = redacted_thread(thread, verdicts, focus=focus, case_id=case_id)
        try:
            return await self._summariser.summarise(redacted, policy)
        except ClassifierError as exc:
            raise InvalidRequest(f"no summary: the model did not answer ({exc})") from exc

    async def _verdicts(self, tenant: Tenant, messages: Sequence[Message]) -> list[Verdict]:
        stored: list[Verdict | None] = []
        for message in messages:
            found = await read_decision(self._redis, self._streams, message.key)
            stored.append(found[1] if found is not None and found[0].text == message.text else None)
        fresh = [m for m, v in zip(messages, stored, strict=True) if v is None]
        judged = iter(await (await self.judge_for(tenant)).judge(fresh)) if fresh else iter(())
        verdicts = []
        for message, verdict in zip(messages, stored, strict=True):
            if verdict is None:
                verdict = next(judged).verdict or Verdict(
                    message_key=message.key, route=Route.ALLOW, stage="none"
                )
            verdicts.append(verdict)
        return verdicts
