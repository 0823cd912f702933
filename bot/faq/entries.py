"""FAQ files: entries with example questions and the answer moderators approved.

The format is fixed (tools outside the project read it)::

    faqs:
      - id: reset_password
        questions: ["how do I reset my password?", "forgot my password", ...]
        answer: "Open Settings > Account > Reset password ..."

A mistake stops start-up with a :class:`~bot.errors.PolicyError` naming the file, the entry
and the fix.
"""

from __future__ import annotations

import fcntl
import hashlib
import re
from pathlib import Path
from typing import Annotated

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from bot.errors import PolicyError
from bot.yaml_files import parse_yaml, read_text

__all__ = ["FaqEntry", "FaqFile", "append_entry", "load_faqs"]

_ID = re.compile(r"^\S{1,80}$")

Question = Annotated[str, Field(min_length=1, max_length=2000)]


class FaqEntry(BaseModel):
    """One question moderators answered once, for good."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(description="stable id, no spaces (shown to moderators, stored with feedback)")
    questions: tuple[Question, ...] = Field(
        min_length=1, description="how members ask it; several phrasings match best"
    )
    answer: str = Field(description="the approved text, posted as is")

    @field_validator("id")
    @classmethod
    def _id(cls, value: str) -> str:
        if not _ID.match(value):
            raise ValueError(
                "an id has spaces or is too long; "
                "use 1 to 80 characters without spaces, e.g. reset_password"
            )
        return value

    @field_validator("questions")
    @classmethod
    def _questions(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        cleaned = tuple(q.strip() for q in value)
        if not all(cleaned):
            raise ValueError("a question is empty; remove it or write the question")
        return cleaned

    @field_validator("answer")
    @classmethod
    def _answer(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("the answer is empty; write the approved answer text")
        return value.strip()


class FaqFile(BaseModel):
    """A whole FAQ file, validated; ``version`` is a hash of its content."""

    model_config = ConfigDict(frozen=True)

    path: str
    faqs: tuple[FaqEntry, ...]
    version: str = ""

    def entry(self, faq_id: str) -> FaqEntry:
        """The entry with that id.

        Raises:
            KeyError: no entry has it.
        """
        for item in self.faqs:
            if item.id == faq_id:
                return item
        raise KeyError(faq_id)


def _where(index: int, raw: object) -> str:
    name = raw.get("id") if isinstance(raw, dict) else None
    return f"faqs[{index}]" + (f" (id {name!r})" if isinstance(name, str) else "")


def _fix(kind: str, field: str) -> str:
    if kind == "missing":
        return {
            "id": "add an id, e.g. id: reset_password",
            "questions": "add questions: a list of ways members ask it",
            "answer": "add answer: the approved text",
        }.get(field, f"add {field}")
    if kind == "extra_forbidden":
        return "an entry has only id, questions and answer; remove this key or fix its spelling"
    if kind == "too_short":
        return "write at least one example question"
    return "see the FAQ file format: faqs: [{id, questions: [...], answer}]"


def _parse(path: str, text: str) -> FaqFile:
    raw = parse_yaml(path, text)
    if not isinstance(raw, dict) or "faqs" not in raw:
        raise PolicyError(path, "(top level)", "has no 'faqs' list", "start the file with faqs:")
    extra = sorted(set(raw) - {"faqs"})
    if extra:
        raise PolicyError(
            path, extra[0], "is not part of an FAQ file", "keep only faqs: at the top level"
        )
    items = raw["faqs"] or []
    if not isinstance(items, list):
        raise PolicyError(path, "faqs", "is not a list", "write faqs: followed by - id: entries")
    entries: list[FaqEntry] = []
    seen_ids: dict[str, str] = {}
    seen_questions: dict[str, str] = {}
    for index, item in enumerate(items):
        where = _where(index, item)
        if not isinstance(item, dict):
            raise PolicyError(path, where, "is not a mapping", "write id, questions and answer")
        try:
            entry = FaqEntry.model_validate(item)
        except ValidationError as exc:
            first = exc.errors()[0]
            field = ".".join(str(p) for p in first["loc"])
            problem = first["msg"].removeprefix("Value error, ")
            fix = _fix(first["type"], field)
            if first["type"] == "value_error":  # our validators write "problem; fix"
                problem, _, fix = problem.partition("; ")
            raise PolicyError(path, f"{where}.{field}", problem, fix) from exc
        if entry.id in seen_ids:
            raise PolicyError(
                path,
                f"{where}.id",
                f"duplicate id {entry.id!r} (also {seen_ids[entry.id]})",
                "give each entry its own id, or merge the two entries",
            )
        seen_ids[entry.id] = where
        for question in entry.questions:
            key = " ".join(question.lower().split())
            other = seen_questions.get(key)
            if other is not None and other != entry.id:
                raise PolicyError(
                    path,
                    f"{where}.questions",
                    f"{question!r} is also a question of {other!r}, so it cannot pick one answer",
                    "keep the question in the one entry that answers it",
                )
            seen_questions[key] = entry.id
        entries.append(entry)
    version = hashlib.sha256(text.encode()).hexdigest()[:12]
    return FaqFile(path=path, faqs=tuple(entries), version=version)


def load_faqs(path: Path | str) -> FaqFile:
    """Read and validate an FAQ file.

    Raises:
        PolicyError: the file is missing, is not YAML, or has a bad entry (duplicate id, empty
            answer, no questions, a question shared by two entries); the message names the
            file, the entry and the fix.
    """
    path = Path(path)
    return _parse(str(path), read_text(path, fix="check faq.file in the policy"))


def append_entry(path: Path | str, entry: FaqEntry) -> FaqFile:
    """Add an entry at the end of an FAQ file, keeping its comments and layout. Two writers
    at once (two moderators accepting suggestions) take turns: the file is locked
    (``flock``) from the read to the write, so neither entry is lost.

    Raises:
        PolicyError: the file is invalid, or the id is taken; the file is left unchanged.
    """
    path = Path(path)
    try:
        held = path.open("rb")
    except OSError:  # missing or unreadable: read_text says which, with the fix
        return _append(path, entry)
    with held:
        fcntl.flock(held, fcntl.LOCK_EX)
        return _append(path, entry)


def _append(path: Path, entry: FaqEntry) -> FaqFile:
    text = read_text(path, fix="check faq.file in the policy")
    current = _parse(str(path), text)
    if any(item.id == entry.id for item in current.faqs):
        raise PolicyError(
            str(path), f"id {entry.id!r}", "is taken", "choose another id or edit that entry"
        )
    block = yaml.safe_dump(
        [entry.model_dump(mode="json")], sort_keys=False, allow_unicode=True, width=100
    )
    if current.faqs:
        indent = re.search(r"^([ \t]*)- id:", text, flags=re.MULTILINE)
        pad = indent.group(1) if indent else "  "
        new_text = text.rstrip("\n") + "\n" + "".join(pad + line for line in block.splitlines(True))
    else:
        new_text = re.sub(r"^faqs:.*$", "faqs:", text, count=1, flags=re.MULTILINE).rstrip("\n")
        new_text += "\n" + "".join("  " + line for line in block.splitlines(True))
    updated = _parse(str(path), new_text)
    path.write_text(new_text, encoding="utf-8")
    return updated
