"""New FAQ entries proposed from the questions the bot handed off (``faq suggest``).

From one tenant's kept questions (:mod:`bot.faq.handoffs`) of a window:

1. questions an entry of the current FAQ file now answers are left out (an entry added since
   they were asked covers them), by the tenant's own :class:`~bot.faq.matcher.FaqMatcher`;
2. the rest are embedded with the matcher's encoder and grouped by meaning
   (:func:`~bot.faq.clusters.star_clusters`, cosine ``threshold``);
3. a group asked by at least ``min_members`` different members becomes a suggestion: its
   phrasings (the most typical first), how often and by how many members it was asked, and a
   *draft answer* taken word for word from a reply in one of its threads: a moderator's first,
   else a member's other than the asker's, the longest (a "thanks!" answers nothing).

Suggestions are kept per tenant (:class:`SuggestionBook`) until one is accepted or the next
``faq suggest`` replaces them, so "accept s1a2b3c4" accepts what the moderator was shown.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from datetime import datetime
from typing import Any, Literal

import numpy as np
import redis.asyncio as aioredis
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from bot.faq.clusters import star_clusters
from bot.faq.handoffs import Asked
from bot.faq.matcher import FaqMatcher
from bot.keys import Streams
from bot.tenant import Tenant

__all__ = [
    "DEFAULT_THRESHOLD",
    "FaqSuggestion",
    "SuggestionBook",
    "entry_id",
    "open_groups",
    "propose",
]

#: Cosine between two phrasings of one question on the stock MiniLM: paraphrases of one
#: question sit at 0.52-0.78 there, different questions of one community below 0.25.
DEFAULT_THRESHOLD = 0.5
#: Phrasings a suggestion shows (and an accepted entry keeps).
MAX_QUESTIONS = 10
#: A reply shorter than this is not a draft answer ("thanks!", "same here").
MIN_ANSWER_CHARS = 20
#: How long ``faq suggest``'s proposals stay acceptable.
KEEP_SUGGESTIONS_S = 14 * 86400
#: The most questions one run groups (the newest): the similarity matrix is n by n.
MAX_QUESTIONS_GROUPED = 2_000

_STOP = frozenset(
    ("a", "an", "the", "i", "my", "me", "we", "our", "you", "your", "it", "its", "is", "are",
     "am", "do", "does", "did", "can", "could", "how", "what", "why", "when", "where", "which",
     "who", "to", "of", "in", "on", "for", "with", "and", "or", "there", "any", "anyone",
     "someone", "please", "pls", "hi", "hey", "hello", "this", "that", "be", "get")
)  # fmt: skip
_WORD = re.compile(r"[a-z0-9]+")


class FaqSuggestion(BaseModel):
    """A question members keep asking that no entry answers, as an entry to accept."""

    model_config = ConfigDict(frozen=True)

    id: str = Field(description="what a moderator types to accept it, e.g. s1a2b3c4")
    faq_id: str = Field(description="the id the new entry gets unless the moderator names one")
    questions: tuple[str, ...] = Field(min_length=1, description="phrasings, most typical first")
    asked: int = Field(ge=1, description="times it was asked in the window")
    members: int = Field(ge=1, description="different members who asked")
    answer: str | None = Field(default=None, description="draft answer: a reply, word for word")
    answer_by: Literal["moderator", "member"] | None = None
    first_at: datetime
    last_at: datetime


def entry_id(question: str, taken: Sequence[str] = ()) -> str:
    """An entry id from a question's first few telling words (``change_port_dev_server``),
    made unique against ``taken``."""
    words = [w for w in _WORD.findall(question.lower()) if w not in _STOP][:4]
    base = "_".join(words)[:60] or "question"
    chosen, n = base, 2
    while chosen in taken:
        chosen, n = f"{base}_{n}", n + 1
    return chosen


def _draft(asked: Sequence[Asked], replies: Sequence[Asked]) -> tuple[str | None, str | None]:
    askers = {q.thread: q.member for q in asked}  # a Discord thread is a channel of its own
    usable = [
        r
        for r in replies
        if r.thread in askers and r.member != askers[r.thread] and len(r.text) >= MIN_ANSWER_CHARS
    ]
    if not usable:
        return None, None
    best = max(usable, key=lambda r: (r.moderator, len(r.text), -r.at.timestamp()))
    return best.text, "moderator" if best.moderator else "member"


def _suggestion(
    group: Sequence[Asked], vectors: np.ndarray[Any, Any], replies: Sequence[Asked]
) -> FaqSuggestion:
    x = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
    centre = x.mean(axis=0)
    order = np.argsort(-(x @ centre), kind="stable")
    phrasings: list[str] = []
    seen: set[str] = set()
    for i in order:
        text = group[int(i)].text
        norm = " ".join(text.lower().split())
        if norm not in seen:
            seen.add(norm)
            phrasings.append(text)
    answer, by = _draft(group, replies)
    digest = hashlib.sha256("\n".join(sorted(q.key for q in group)).encode()).hexdigest()
    return FaqSuggestion(
        id=f"s{digest[:8]}",
        faq_id=entry_id(phrasings[0]),
        questions=tuple(phrasings[:MAX_QUESTIONS]),
        asked=len(group),
        members=len({q.member for q in group}),
        answer=answer,
        answer_by=by,
        first_at=min(q.at for q in group),
        last_at=max(q.at for q in group),
    )


async def open_groups(
    entries: Sequence[Asked], matcher: FaqMatcher, *, threshold: float = DEFAULT_THRESHOLD
) -> list[tuple[list[Asked], np.ndarray[Any, Any]]]:
    """The kept questions no entry of the matcher's FAQ file answers now, grouped by meaning,
    the largest group first, each with its questions' vectors (the newest
    MAX_QUESTIONS_GROUPED questions).

    Raises:
        ClassifierError: the encoder failed.
    """
    questions = [e for e in entries if e.kind == "question"][-MAX_QUESTIONS_GROUPED:]
    if not questions:
        return []
    await matcher.refresh()
    index = await matcher.prepare()
    vectors = np.asarray(await matcher.encoder.embed([q.text for q in questions]), np.float32)
    rows = [i for i, d in enumerate(index.decide(vectors)) if not d.answered]
    kept, kept_vectors = [questions[i] for i in rows], vectors[rows]
    groups = star_clusters(kept_vectors, threshold) if kept else []
    return [([kept[i] for i in group], kept_vectors[group]) for group in groups]


async def propose(
    entries: Sequence[Asked],
    matcher: FaqMatcher,
    *,
    min_members: int,
    threshold: float = DEFAULT_THRESHOLD,
) -> list[FaqSuggestion]:
    """Suggestions from one tenant's kept ``entries``, the most asked (by members) first.

    Raises:
        ClassifierError: the encoder failed.
    """
    replies = [e for e in entries if e.kind == "reply"]
    out: list[FaqSuggestion] = []
    taken = {entry.id for entry in matcher.faqs.faqs}
    for asked, vectors in await open_groups(entries, matcher, threshold=threshold):
        if len({q.member for q in asked}) < min_members:
            continue
        found = _suggestion(asked, vectors, replies)
        unique = entry_id(found.questions[0], sorted(taken))
        taken.add(unique)
        out.append(found.model_copy(update={"faq_id": unique}))
    out.sort(key=lambda s: (-s.members, -s.asked, s.id))
    return out


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class SuggestionBook:
    """The suggestions last shown to a tenant's moderators, by id."""

    def __init__(self, *, redis: aioredis.Redis, streams: Streams) -> None:
        self._redis = redis
        self._streams = streams

    async def replace(self, tenant: Tenant, suggestions: Sequence[FaqSuggestion]) -> None:
        """These become the tenant's suggestions (the earlier ones go). Raises redis errors."""
        key = self._streams.tenant(tenant).faq_suggestions
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.delete(key)
            if suggestions:
                pipe.hset(key, mapping={s.id: s.model_dump_json() for s in suggestions})
                pipe.expire(key, KEEP_SUGGESTIONS_S)
            await pipe.execute()

    async def get(self, tenant: Tenant, suggestion_id: str) -> FaqSuggestion | None:
        """One of the tenant's suggestions (None: no such id there). Raises redis errors."""
        raw: Any = await self._redis.hget(
            self._streams.tenant(tenant).faq_suggestions, suggestion_id
        )
        if raw is None:
            return None
        try:
            return FaqSuggestion.model_validate_json(_text(raw))
        except ValidationError:
            return None

    async def remove(self, tenant: Tenant, suggestion_id: str) -> None:
        """Raises redis errors."""
        await self._redis.hdel(self._streams.tenant(tenant).faq_suggestions, suggestion_id)
