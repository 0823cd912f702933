"""The FAQ desk: new entries proposed from the questions the bot handed off, and accepted in
one step (``modtriage faq suggest``, ``/mod faq suggest``, ``/mod faq accept``).

Everything is the moderator's own tenant's: the questions kept for it
(:mod:`bot.faq.handoffs`), the suggestions shown to its moderators
(:class:`~bot.faq.suggestions.SuggestionBook`, under its keys) and the FAQ file of its current
policy. An id from another tenant is "no such suggestion here". The tenant's preview judge
holds the FAQ matcher (its encoder, the file as it stands), so suggestions are grouped with
the encoder that answers, and a question an entry now answers is not proposed again.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

from pydantic import ValidationError

from bot.errors import ClassifierError, InvalidRequest, PolicyError
from bot.faq.entries import FaqEntry, append_entry
from bot.faq.handoffs import HandoffLog
from bot.faq.matcher import FaqMatcher
from bot.faq.suggestions import FaqSuggestion, SuggestionBook, entry_id, propose
from bot.review.actor import Actor
from bot.review.core import ServiceCore
from bot.tenant import Tenant

__all__ = ["FaqDesk"]

#: The longest window ``faq suggest`` reads (the retention caps it anyway).
MAX_SUGGEST_DAYS = 400
#: How long grouping may take (2,000 questions embed in about 6 s on two cores).
SUGGEST_TIMEOUT_S = 120.0


class FaqDesk(ServiceCore):
    async def _faq_matcher(self, tenant: Tenant) -> FaqMatcher:
        judge = await self.judge_for(tenant)
        matcher = judge.faq_matcher
        if matcher is None or judge.policy.faq.file is None:
            raise InvalidRequest("this workspace's policy has no FAQ file (faq: {file: ...})")
        return matcher

    async def suggest_faq(self, actor: Actor, *, days: int = 7) -> list[FaqSuggestion]:
        """New FAQ entries from the questions handed off in the last ``days`` days that at
        least ``faq.suggest_min_members`` members asked, most asked first; they replace the
        tenant's earlier suggestions.

        Raises:
            PermissionDenied: the actor does not moderate their workspace.
            InvalidRequest: ``days`` out of range, no FAQ file, or the encoder failed or took
                longer than SUGGEST_TIMEOUT_S.
            RedisError: Redis cannot answer.
        """
        tenant = await self._require_moderator(actor, "see FAQ suggestions")
        if not 1 <= days <= MAX_SUGGEST_DAYS:
            raise InvalidRequest(f"days must be 1 to {MAX_SUGGEST_DAYS}, not {days}")
        policy = await self._policies.current_one(tenant)
        matcher = await self._faq_matcher(tenant)
        log = HandoffLog(redis=self._redis, streams=self._streams)
        entries = await log.read(tenant, since=self._clock() - timedelta(days=days))
        try:
            found = await asyncio.wait_for(
                propose(entries, matcher, min_members=policy.faq.suggest_min_members),
                SUGGEST_TIMEOUT_S,
            )
        except (ClassifierError, TimeoutError) as exc:
            raise InvalidRequest(f"no suggestions: the encoder did not answer ({exc!r})") from exc
        await SuggestionBook(redis=self._redis, streams=self._streams).replace(tenant, found)
        return found

    async def accept_faq(
        self,
        actor: Actor,
        suggestion_id: str,
        *,
        answer: str | None = None,
        faq_id: str | None = None,
    ) -> FaqEntry:
        """Add a suggestion to the workspace's FAQ file as an entry (its phrasings as the
        questions; ``answer``, else its draft answer; ``faq_id``, else its proposed id) and
        return it. Workers reading that file answer with it from their next batch.

        Raises:
            PermissionDenied: the actor does not moderate their workspace.
            InvalidRequest: no such suggestion in this workspace, no answer given or drafted,
                a bad or taken id, or no FAQ file (the file is left as it was).
            RedisError: Redis cannot answer.
        """
        tenant = await self._require_moderator(actor, "add an FAQ entry")
        book = SuggestionBook(redis=self._redis, streams=self._streams)
        wanted = suggestion_id.strip().strip("`")
        found = await book.get(tenant, wanted)
        if found is None:
            raise InvalidRequest(
                f"no FAQ suggestion {wanted!r} in this workspace; `faq suggest` lists them"
            )
        text = (answer if answer is not None else found.answer or "").strip()
        if not text:
            raise InvalidRequest(
                f"suggestion {found.id} has no draft answer: accept it with the answer to post"
            )
        matcher = await self._faq_matcher(tenant)
        await matcher.refresh()
        taken = [entry.id for entry in matcher.faqs.faqs]
        chosen = faq_id.strip() if faq_id else entry_id(found.faq_id, taken)
        try:
            entry = FaqEntry(id=chosen, questions=found.questions, answer=text)
        except ValidationError as exc:
            problem = exc.errors()[0]["msg"].removeprefix("Value error, ")
            raise InvalidRequest(f"that entry cannot be added: {problem}") from exc
        try:
            await asyncio.to_thread(append_entry, matcher.faqs.path, entry)
        except PolicyError as exc:
            raise InvalidRequest(f"not added, the FAQ file is unchanged: {exc}") from exc
        await book.remove(tenant, found.id)
        await self._redis.xadd(
            self.keys.tenant(tenant).audit,
            {"actor": actor.label(), "op": "faq_accept", "detail": f"{found.id} as {entry.id}"},
        )
        await matcher.refresh()
        return entry
