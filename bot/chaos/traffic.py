"""What a chaos scenario publishes: a conversation, hostile messages and garbage entries.

Every entry written is remembered as :class:`Published` (its stream entry id, and the message
key when it is a message), so the tally can say of each one whether it was decided,
dead-lettered or lost.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Literal

import redis.asyncio as aioredis
from pydantic import BaseModel, ConfigDict

from bot.message import MAX_TEXT_CHARS, Author, Message
from bot.pipeline.ingest import Ingest
from bot.streams import Streams

__all__ = ["Kind", "Published", "conversation", "garbage", "hostile", "publish", "write_raw"]

Kind = Literal["message", "slur", "hostile", "hostile-slur", "garbage"]

WORKSPACE = "chaos"

# Ordinary chat, a question the FAQ may answer, and a link: the stages all get work.
_ORDINARY = (
    "morning all! anyone else upgrading to 3.2 today? ({i})",
    "yep, doing it on staging first, the migration guide looks solid ({i})",
    "how do I reset my password? ({i})",
    "that worked, thanks! ({i})",
    "has anyone tried the new release yet? number {i}",
    "the docs are at https://docs.python.org/3/ if that helps ({i})",
    "lunch at noon? ({i})",
    "I pushed a fix for the flaky test, review welcome ({i})",
    "this update is damn good ({i})",
)


class Published(BaseModel):
    """One entry the scenario wrote to the ingest stream."""

    model_config = ConfigDict(frozen=True)

    entry_id: str
    kind: Kind
    key: str | None = None  # the message key; None for garbage, which has no valid message


def _message(i: int, text: str, *, run: str, at: datetime) -> Message:
    return Message(
        platform="console", workspace=WORKSPACE, channel=f"c{i % 3}", id=f"{run}-{i}",
        author=Author(id=f"{run}-u{i}", name=f"member{i}"), text=text, ts=at,
    )  # fmt: skip


def conversation(n: int, *, run: str) -> list[tuple[Kind, Message]]:
    """``n`` messages from ``n`` members, a second apart; every tenth is a deny-listed slur
    (the rules act on it whether or not a model answers)."""
    start = datetime.now(UTC) - timedelta(seconds=n)
    out: list[tuple[Kind, Message]] = []
    for i in range(n):
        at = start + timedelta(seconds=i)
        if i % 10 == 0:
            out.append(("slur", _message(i, f"you f4gg0t number {i}", run=run, at=at)))
        else:
            text = _ORDINARY[i % len(_ORDINARY)].format(i=i)
            out.append(("message", _message(i, text, run=run, at=at)))
    return out


def hostile(*, run: str, first: int, largest: int = 2) -> list[tuple[Kind, Message]]:
    """Messages that once stalled or fooled a worker (``tests/test_hostile_input.py``):
    40,000 characters of ``"a."`` (a regex that backtracked for 44 s), a slur reversed by a
    right-to-left override (shown as "go home you wetback"), and ``largest`` messages of the
    largest size a message may have (1,000,000 characters): dotted letters, then invite
    links (one piece of evidence each)."""
    at = datetime.now(UTC)
    big = [
        ("a." * (MAX_TEXT_CHARS // 2))[:MAX_TEXT_CHARS],
        ("free nitro at discord.gg/x " * 40_000)[:MAX_TEXT_CHARS],
    ]
    texts: list[tuple[Kind, str]] = [
        ("hostile", "a." * 20_000),
        ("hostile-slur", "\u202ekcabtew uoy emoh og\u202c"),
        *(("hostile", text) for text in big[:largest]),
    ]
    return [
        (kind, _message(first + j, text, run=run, at=at + timedelta(seconds=j)))
        for j, (kind, text) in enumerate(texts)
    ]


def garbage(*, run: str) -> list[dict[str, bytes]]:
    """Entries no adapter would write, straight onto the ingest stream: each must be
    dead-lettered with its reason, never dropped and never crash a worker."""
    valid = _message(0, "hi", run=run, at=datetime.now(UTC)).model_dump(mode="json")
    too_long = {**valid, "id": f"{run}-too-long", "text": "x" * (MAX_TEXT_CHARS + 1)}
    other_platform = {**valid, "id": f"{run}-irc", "platform": "irc"}
    return [
        {"message": os.urandom(256)},  # binary noise
        {"message": b"\xff\xfe\x00{not json"},
        {"message": b""},
        {"message": b"null"},
        {"message": b"{}"},
        {"message": b"[" * 50_000 + b"]" * 50_000},  # nested past any parser's limit
        {"message": json.dumps(too_long).encode()},  # one character over the limit
        {"message": json.dumps(other_platform).encode()},
        {"msg": b"the field has the wrong name"},
        {"\x00": os.urandom(32)},
    ]


async def publish(
    redis: aioredis.Redis, streams: Streams, messages: Iterable[tuple[Kind, Message]]
) -> list[Published]:
    """Through the adapters' own path (:class:`~bot.pipeline.ingest.Ingest`)."""
    ingest = Ingest(redis=redis, streams=streams)
    out = []
    for kind, message in messages:
        entry_id = await ingest.publish(message)
        if entry_id is None:
            raise RuntimeError("the chaos tenant is not served")  # no MODTRIAGE_WORKSPACES here
        out.append(Published(entry_id=entry_id, kind=kind, key=message.key))
    return out


async def write_raw(
    redis: aioredis.Redis, streams: Streams, entries: Iterable[Mapping[str, bytes]]
) -> list[Published]:
    """XADD each entry as it is, past every check an adapter makes."""
    out = []
    for fields in entries:
        entry_id = await redis.xadd(streams.ingest, dict(fields))  # type: ignore[arg-type]
        text = entry_id.decode() if isinstance(entry_id, bytes) else str(entry_id)
        out.append(Published(entry_id=text, kind="garbage"))
    return out
