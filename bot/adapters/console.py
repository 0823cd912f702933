"""The console adapter: a terminal conversation in, readable decisions out.

It is what ``modtriage run`` uses with no platform tokens: it replays a JSONL conversation
(or lines typed on stdin) through the real pipeline and "performs" actions by describing them.
Given a ``record`` file it also appends one JSON line per action performed, a record that
outlives the process (the chaos suite, :mod:`bot.chaos`, counts actions run twice from it).
"""

from __future__ import annotations

import asyncio
import json
import os
from collections import defaultdict
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from bot.action import Action
from bot.errors import MalformedMessage
from bot.message import Author, Message
from bot.review.notices import human_duration
from bot.verdict import Route, Verdict

__all__ = ["ConsoleAdapter", "describe_action", "describe_verdict", "read_conversation"]

_ROUTE_STYLE = {
    Route.ALLOW: "green",
    Route.REVIEW: "yellow",
    Route.ESCALATE: "magenta",
    Route.ACT: "bold red",
}


def read_conversation(path: Path, *, run_id: str) -> Iterator[Message]:
    """Messages from a JSONL file of ``{"user", "text", "channel"?, "roles"?, "after_s"?}``.

    Raises:
        MalformedMessage: a line is not valid, naming the line.
    """
    clock = datetime.now(UTC)
    with path.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                row: dict[str, Any] = json.loads(line)
                clock += timedelta(seconds=float(row.get("after_s", 20)))
                yield Message(
                    platform="console",
                    workspace="demo",
                    channel=row.get("channel", "general"),
                    id=f"{run_id}-{number}",
                    author=Author(
                        id=row["user"], name=row["user"], roles=tuple(row.get("roles", ()))
                    ),
                    text=row["text"],
                    ts=clock,
                    thread=row.get("thread"),
                )
            except (json.JSONDecodeError, KeyError, TypeError, ValueError, ValidationError) as exc:
                raise MalformedMessage(f"{path}:{number}: {exc}") from exc


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


def _snippet(text: str, width: int = 60) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"


def describe_verdict(message: Message, verdict: Verdict, actions: Iterable[str] = ()) -> str:
    """One line in rich markup: who, what, the route, stage, model and actions."""
    route = verdict.route
    style = _ROUTE_STYLE[route]
    head = (
        f"[dim]{message.ts:%H:%M:%S}[/] #{message.channel} [bold]@{message.author.name}[/]: "
        f"{_snippet(message.text)!r}"
    )
    what = route.value.upper() + (f" {verdict.category}" if verdict.category else "")
    why = f" · {verdict.stage}: {verdict.explain()}" if verdict.evidence else ""
    model = f" · model {verdict.model}" if verdict.model else ""
    shadow = " · [italic]shadow[/]" if verdict.shadow else ""
    faq = verdict.classification.faq if verdict.classification else None
    if faq is not None:
        model += f" · FAQ {faq.faq_id} ({faq.score:.2f})"
    done = ", ".join(actions)
    tail = f"\n      ↳ {done}" if done else ""
    return f"{head}\n   → [{style}]{what}[/]{why}{model}{shadow}{tail}"


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

    async def perform(self, action: Action) -> None:
        if action.type not in self.handles:
            raise TypeError(f"console adapter cannot perform {action.type!r}")
        if self._record is not None:
            _append(self._record, _record_line(action))
        self.performed[action.message_key].append(describe_action(action))
        async with self._changed:
            self.done_ids.add(action.id)
            self._changed.notify_all()

    async def wait_for(self, action_ids: Iterable[str]) -> None:
        """Until every id was performed; callers bound it with ``asyncio.timeout``."""
        wanted = set(action_ids)
        async with self._changed:
            await self._changed.wait_for(lambda: wanted <= self.done_ids)
