"""Questions the FAQ stage handed off, and the replies in their threads: what ``faq suggest``
reads to propose new entries.

One Redis stream per tenant (:attr:`bot.keys.TenantKeys.faq_asked`). Each entry is a
*question* (a message that looked like one, that no entry answered) or a *reply* in the thread
of one (the draft answer comes from those). Nothing is written as the member wrote it:

- texts are redacted first (:class:`~bot.escalation.redaction.Redactor`: mentions, e-mail
  addresses, phone, card and account numbers, tokens), and links are replaced by ``[link]``
  except in moderators' replies, where a link to the docs is the answer (their query strings
  and fragments still go);
- members are kept as a hash of their id: enough to count how many different members asked,
  never who.

Retention is the tenant policy's ``faq.keep_questions_days``: each write trims entries older
than that (``XTRIM MINID``) and sets the stream's TTL to it, with a cap on its length besides;
0 keeps nothing. A thread collects replies for as long as its question is kept
(:meth:`bot.keys.TenantKeys.faq_thread`, with the same TTL).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, Literal

import redis.asyncio as aioredis
from pydantic import BaseModel, ConfigDict, ValidationError

from bot.escalation.redaction import Redactor
from bot.keys import Streams
from bot.message import Message
from bot.tenant import Tenant

__all__ = ["MAX_KEPT", "Asked", "HandoffLog", "Kind", "member_hash", "redacted", "thread_of"]

#: The most entries one tenant's stream holds, whatever their age.
MAX_KEPT = 20_000
#: What one read of a window returns at most (newest first).
MAX_READ = 5_000
#: A stored text is cut to this many characters, after redaction.
MAX_TEXT = 1_000

_LINK = re.compile(r"<(?:https?|ftp)://[^>\s]+>|\b(?:[a-z][a-z0-9+.-]{1,15}://|www\.)[^\s<>\"']+",
                   re.IGNORECASE)  # fmt: skip
_SLACK_LINK = re.compile(r"<((?:https?|ftp)://[^>|\s]+)(?:\|([^>]*))?>", re.IGNORECASE)

Kind = Literal["question", "reply"]


def redacted(text: str, *, keep_links: bool = False) -> str:
    """``text`` as it may be stored: personal data replaced by placeholders, links by
    ``[link]`` unless ``keep_links`` (then only their query strings and fragments go)."""
    text = _SLACK_LINK.sub(lambda m: m.group(1), text)  # Slack's <url|label> as the url
    if not keep_links:
        text = _LINK.sub("[link]", text)
    return Redactor().redact(text).strip()[:MAX_TEXT]


def member_hash(tenant: Tenant, user_id: str) -> str:
    """A member's id, one way: distinct per member of a tenant, and not their id."""
    return hashlib.sha256(f"{tenant}:{user_id}".encode()).hexdigest()[:16]


def thread_of(message: Message) -> str:
    """The thread a message's replies go to: its own when it starts one."""
    return message.thread or message.id


class Asked(BaseModel):
    """One stored entry: a handed-off question or a reply in its thread."""

    model_config = ConfigDict(frozen=True)

    kind: Kind
    key: str  # the message key: a redelivered message is read once
    text: str
    member: str
    channel: str
    thread: str
    at: datetime
    moderator: bool = False


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class HandoffLog:
    """Writes and reads one namespace's handed-off questions, per tenant."""

    def __init__(self, *, redis: aioredis.Redis, streams: Streams, maxlen: int = MAX_KEPT) -> None:
        self._redis = redis
        self._streams = streams
        self._maxlen = maxlen

    async def open_threads(self, replies: Sequence[Message]) -> list[bool]:
        """For each message posted in a thread: whether that thread's question was handed off
        (and is still kept). One round trip. Raises redis errors."""
        if not replies:
            return []
        async with self._redis.pipeline(transaction=False) as pipe:
            for message in replies:
                keys = self._streams.tenant(Tenant.of(message))
                pipe.exists(keys.faq_thread(message.thread or message.id))
            found: list[Any] = await pipe.execute()
        return [bool(int(n)) for n in found]

    async def record(
        self,
        *,
        questions: Sequence[Message],
        replies: Sequence[tuple[Message, bool]],
        keep_days: int,
        now: datetime | None = None,
    ) -> None:
        """Keep ``questions`` (handed off) and ``replies`` (each with whether a moderator wrote
        it), redacted, for ``keep_days``; nothing when it is 0. Raises redis errors."""
        if keep_days <= 0 or not (questions or replies):
            return
        ttl = keep_days * 86400
        oldest_ms = int((now or datetime.now(UTC)).timestamp() * 1000) - ttl * 1000
        rows: list[tuple[Message, Kind, bool]] = [(m, "question", False) for m in questions]
        rows += [(m, "reply", moderator) for m, moderator in replies]
        touched: set[str] = set()
        async with self._redis.pipeline(transaction=False) as pipe:
            for message, kind, moderator in rows:
                tenant = Tenant.of(message)
                keys = self._streams.tenant(tenant)
                fields: dict[str | bytes | bytearray | memoryview | int | float, Any] = {
                    "kind": kind,
                    "key": message.key,
                    "text": redacted(message.text, keep_links=moderator),
                    "member": member_hash(tenant, message.author.id),
                    "channel": message.channel,
                    "thread": thread_of(message),
                    "at": message.ts.isoformat(),
                    "moderator": "1" if moderator else "0",
                }
                pipe.xadd(keys.faq_asked, fields, maxlen=self._maxlen, approximate=True)
                touched.add(keys.faq_asked)
                if kind == "question":
                    pipe.set(keys.faq_thread(thread_of(message)), 1, ex=ttl)
            for key in touched:
                pipe.xtrim(key, minid=max(oldest_ms, 0), approximate=False)
                pipe.expire(key, ttl)
            await pipe.execute()

    async def read(self, tenant: Tenant, *, since: datetime) -> list[Asked]:
        """The tenant's entries written at or after ``since``, oldest first, each message once
        (the newest MAX_READ). Raises redis errors."""
        key = self._streams.tenant(tenant).faq_asked
        raw: Any = await self._redis.xrevrange(key, count=MAX_READ)
        seen: set[tuple[str, str]] = set()
        found: list[Asked] = []
        for _, fields in raw:
            row = {_text(k): _text(v) for k, v in fields.items()}
            try:
                entry = Asked(
                    kind=row["kind"],
                    key=row["key"],
                    text=row["text"],
                    member=row["member"],
                    channel=row["channel"],
                    thread=row["thread"],
                    at=datetime.fromisoformat(row["at"]),
                    moderator=row.get("moderator") == "1",
                )
            except (KeyError, ValueError, ValidationError):
                continue  # written by another version: suggestions are best effort
            if entry.at < since or (entry.kind, entry.key) in seen:
                continue
            seen.add((entry.kind, entry.key))
            found.append(entry)
        return list(reversed(found))
