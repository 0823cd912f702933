"""The console adapter: a terminal conversation in, readable decisions out.

It is what ``modtriage run`` uses with no platform tokens: it replays a JSONL conversation
(or lines typed on stdin) through the real pipeline and "performs" actions by describing them.
Given a ``record`` file it also appends one JSON line per action performed, a record that
outlives the process (the chaos suite, :mod:`bot.chaos`, counts actions run twice from it).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import threading
from collections import defaultdict
from collections.abc import AsyncIterator, Iterable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TextIO

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from rich.markup import escape

from bot.action import REPEATABLE, Action
from bot.errors import ConfigError, MalformedMessage
from bot.jsonl import numbered_rows, row_problem
from bot.message import Author, Message
from bot.review.notices import human_duration
from bot.verdict import Route, Verdict

__all__ = [
    "CONVERSATION_LINE",
    "WIDTH",
    "ConsoleAdapter",
    "ConversationLine",
    "describe_action",
    "describe_verdict",
    "read_conversation",
    "typed_messages",
]

_ROUTE_STYLE = {
    Route.ALLOW: "green",
    Route.REVIEW: "yellow",
    Route.ESCALATE: "magenta",
    Route.ACT: "bold red",
}


class ConversationLine(BaseModel):
    """One line of a conversation file: who says what, where, and how long after the last."""

    model_config = ConfigDict(frozen=True)

    user: str
    text: str
    channel: str = "general"
    roles: tuple[str, ...] = ()
    after_s: float = Field(default=20.0, description="seconds after the line before")
    thread: str | None = None


CONVERSATION_LINE = (
    '{"user": str, "text": str, "channel"?: str, "roles"?: [str], "after_s"?: seconds, '
    '"thread"?: str}'
)


def read_conversation(path: Path, *, run_id: str) -> Iterator[Message]:
    """Messages from a JSONL file of :class:`ConversationLine` (``CONVERSATION_LINE``).

    Raises:
        MalformedMessage: the file cannot be read or a line is not valid, naming the line.
    """
    clock = datetime.now(UTC)
    try:
        for number, row in numbered_rows(path, ConversationLine, expected=CONVERSATION_LINE):
            clock += timedelta(seconds=row.after_s)
            yield Message(
                platform="console",
                workspace="demo",
                channel=row.channel,
                id=f"{run_id}-{number}",
                author=Author(id=row.user, name=row.user, roles=row.roles),
                text=row.text,
                ts=clock,
                thread=row.thread,
            )
    except ConfigError as exc:
        raise MalformedMessage(str(exc)) from exc
    except ValidationError as exc:  # a row that is not a Message: an empty user, a long text
        raise MalformedMessage(f"{path}:{number}: {row_problem(exc.errors()[0])}") from exc


async def typed_messages(lines: TextIO, *, run_id: str) -> AsyncIterator[Message]:
    """A message per non-blank line typed on ``lines`` (stdin), as soon as it is typed.

    A daemon thread reads, so a blocking read never holds up the event loop and never keeps
    the process alive after Ctrl-C.
    """
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[str | None] = asyncio.Queue()

    def read() -> None:
        for line in iter(lines.readline, ""):
            loop.call_soon_threadsafe(queue.put_nowait, line)
        loop.call_soon_threadsafe(queue.put_nowait, None)

    threading.Thread(target=read, name="stdin", daemon=True).start()
    number = 0
    while (line := await queue.get()) is not None:
        number += 1
        if line.strip():
            yield Message(
                platform="console", workspace="console", channel="stdin",
                id=f"{run_id}-{number}", author=Author(id="you", name="you"),
                text=line.rstrip("\n"), ts=datetime.now(UTC),
            )  # fmt: skip


def describe_action(action: Action) -> str:
    match action.type:
        case "delete":
            return "delete message"
        case "warn":
            return f"warn @{action.user_id} privately"
        case "timeout":
            return f"time out @{action.user_id} for {human_duration(action.duration_s)}"
        case "kick":
            return f"kick @{action.user_id}"
        case "ban":
            return f"ban @{action.user_id}"
        case "lift":
            return f"lift {action.sanction} of @{action.user_id}"
        case "reply":
            return f"reply in thread: {action.text[:70]!r}"
        case "notify":
            return "notify moderators"
        case "open_case":
            number = f" #{action.case_id}" if action.case_id else ""
            return f"open case{number} ({action.route})"
    raise TypeError(f"unknown action type {action.type!r}")


#: The widest line ``describe_verdict`` writes.
WIDTH = 100


def _snippet(text: str, width: int = 60) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"


def _quoted(text: str, width: int) -> str:
    """``repr`` of the text's start, at most ``width`` columns with its quotes and escapes."""
    room = max(width - 2, 8)
    quoted = repr(_snippet(text, room))
    while len(quoted) > width and room > 8:
        room -= 1
        quoted = repr(_snippet(text, room))
    return quoted


def _fit(first: str, pieces: list[tuple[str, str]], *, indent: str, width: int) -> str:
    """``pieces`` (plain text, its markup) after ``first``, a space apart, on as many lines as
    it takes to keep each within ``width`` columns: a line breaks between pieces only (the
    next starts with ``indent``), and a piece too wide for any line is cut with an ellipsis."""
    lines: list[str] = []
    line, used, empty = first, len(first), True
    for plain, markup in pieces:
        room = width - len(indent)
        if len(plain) > room:
            plain, markup = plain[: room - 1] + "…", escape(plain[: room - 1] + "…")
        if empty:
            line, used, empty = line + markup, used + len(plain), False
        elif used + 1 + len(plain) <= width:
            line, used = f"{line} {markup}", used + 1 + len(plain)
        else:
            lines.append(line)
            line, used = indent + markup, len(indent) + len(plain)
    lines.append(line)
    return "\n".join(lines)


def describe_verdict(
    message: Message,
    verdict: Verdict,
    actions: Iterable[str] = (),
    *,
    model: str | None = None,
    width: int = WIDTH,
) -> str:
    """Lines in rich markup, none wider than ``width`` columns: who said what; the route, the
    stage and why; what was done. ``model`` is the run's classifier, named once in the banner:
    a verdict's own model is named only when it is another one (a fallback, say)."""
    who = f"{message.ts:%H:%M:%S} #{message.channel} @{message.author.name}: "
    said = _quoted(message.text, max(width - len(who), 20))
    head = (
        f"[dim]{message.ts:%H:%M:%S}[/] #{escape(message.channel)} "
        f"[bold]@{escape(message.author.name or message.author.id)}[/]: {escape(said)}"
    )
    what = verdict.route.value.upper() + (f" {verdict.category}" if verdict.category else "")
    pieces = [(f"→ {what}", f"→ [{_ROUTE_STYLE[verdict.route]}]{escape(what)}[/]")]
    reasons = [e.explain() for e in verdict.evidence]
    for n, reason in enumerate(reasons):
        text = (f"· {verdict.stage}: " if n == 0 else "") + reason
        text += ";" if n < len(reasons) - 1 else ""
        pieces.append((text, escape(text)))
    notes = [f"model {verdict.model}"] if verdict.model and verdict.model != model else []
    faq = verdict.classification.faq if verdict.classification else None
    if faq is not None:
        notes.append(f"FAQ {faq.faq_id} ({faq.score:.2f})")
    pieces += [(f"· {note}", escape(f"· {note}")) for note in notes]
    if verdict.shadow:
        pieces.append(("· shadow", "· [italic]shadow[/]"))
    lines = [head, _fit("   ", pieces, indent="     ", width=width)]
    done = list(actions)
    if done:
        said_done = [(a + ("," if n < len(done) - 1 else "")) for n, a in enumerate(done)]
        lines.append(
            _fit("      ↳ ", [(a, escape(a)) for a in said_done], indent="        ", width=width)
        )
    return "\n".join(lines)


def _record_line(action: Action) -> bytes:
    """What the ``record`` file holds for one performed action: a JSON line, naming the
    process that performed it."""
    row = {
        "id": action.id, "type": action.type, "message_key": action.message_key,
        "pid": os.getpid(),
    }  # fmt: skip
    return (json.dumps(row) + "\n").encode()


def _append(path: Path, line: bytes) -> None:
    """One write on a file opened for appending: the line is there whole or not at all."""
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line)
    finally:
        os.close(fd)


class ConsoleAdapter:
    """Performs actions by recording a description of them, per message.

    ``record``: a JSON Lines file that each performed action is appended to (``id``, ``type``,
    ``message_key``, ``pid``) with one ``write`` on a file opened for appending, so a line is either
    there whole or not at all, and it stays when this process is killed right after.

    Like a real platform, it absorbs a repeat of an action that leaves things as they are
    (``REPEATABLE``: a message already deleted, a member already banned...): the repeat is
    not performed again. With a record file, what an earlier process did counts too.
    """

    platform = "console"
    handles = frozenset(
        {"delete", "warn", "timeout", "kick", "ban", "lift", "reply", "notify", "open_case"}
    )

    def __init__(self, *, record: Path | None = None) -> None:
        self.performed: dict[str, list[str]] = defaultdict(list)
        self.done_ids: set[str] = set()
        self._changed = asyncio.Condition()
        self._record = record
        self._earlier: set[str] = set()
        self._read_to = 0  # how far the record file has been read

    async def perform(self, action: Action) -> None:
        if action.type not in self.handles:
            raise TypeError(f"console adapter cannot perform {action.type!r}")
        if action.type in REPEATABLE and (
            action.id in self.done_ids or action.id in self._recorded()
        ):
            async with self._changed:  # already so: nothing changes
                self.done_ids.add(action.id)
                self._changed.notify_all()
            return
        if self._record is not None:
            _append(self._record, _record_line(action))
        self.performed[action.message_key].append(describe_action(action))
        async with self._changed:
            self.done_ids.add(action.id)
            self._changed.notify_all()

    def _recorded(self) -> set[str]:
        """The ids the record file says were performed, by any process (read on from where
        the last call stopped; a line still being written waits for the next call)."""
        if self._record is None or not self._record.is_file():
            return self._earlier
        with self._record.open("rb") as fh:
            fh.seek(self._read_to)
            chunk = fh.read()
        whole = chunk[: chunk.rfind(b"\n") + 1]
        self._read_to += len(whole)
        for line in whole.splitlines():
            with contextlib.suppress(ValueError, KeyError, TypeError):
                self._earlier.add(str(json.loads(line)["id"]))
        return self._earlier

    async def wait_for(self, action_ids: Iterable[str]) -> None:
        """Until every id was performed; callers bound it with ``asyncio.timeout``."""
        wanted = set(action_ids)
        async with self._changed:
            await self._changed.wait_for(lambda: wanted <= self.done_ids)
