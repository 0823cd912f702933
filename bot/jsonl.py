"""Reading JSONL files (the evaluation formats of DESIGN.md, conversations): one JSON object per
line, validated, every failure naming the file and the line.

Files are UTF-8; a byte-order mark at the start (Windows editors write one) is skipped.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TypeVar

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from bot.errors import ConfigError

__all__ = ["numbered_lines", "numbered_rows", "read_jsonl", "row_problem"]

Row = TypeVar("Row", bound=BaseModel)


def numbered_lines(path: Path) -> Iterator[tuple[int, str]]:
    """The non-blank lines of a UTF-8 text file with their numbers (from 1), newline removed.

    Raises:
        ConfigError: the file cannot be read, or a line is not UTF-8 text (a binary file, another
            encoding); the message names the file and the line.
    """
    try:
        with path.open("rb") as lines:
            for number, raw in enumerate(lines, start=1):
                try:
                    line = raw.decode("utf-8-sig" if number == 1 else "utf-8")
                except UnicodeDecodeError as exc:
                    raise ConfigError(
                        f"{path}:{number}: not UTF-8 text (byte 0x{raw[exc.start]:02x} at column "
                        f"{exc.start + 1}); is it the file you meant? Save it as UTF-8"
                    ) from None  # the exception's text repeats the line's bytes
                if line.strip():
                    yield number, line.rstrip("\r\n")
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}") from exc


def row_problem(error: ErrorDetails) -> str:
    """What is wrong with a row, from pydantic's first error: ``missing field 'user'``,
    ``field 'after_s': Input should be a valid number``, ``not a JSON object (...)``."""
    where = ".".join(str(p) for p in error["loc"])
    if error["type"] == "missing":
        return f"missing field {where!r}"
    if error["type"] == "json_invalid":
        return f"not a JSON object ({error['msg']})"
    if not where:
        return error["msg"]
    return f"field {where!r}: {error['msg']}"


def numbered_rows(path: Path, model: type[Row], *, expected: str) -> Iterator[tuple[int, Row]]:
    """Every non-blank line of ``path`` as a ``model``, with its line number.

    Raises:
        ConfigError: the file cannot be read, or a line is not a valid row; the message names
            the file, the line, the field, and ``expected`` (the row format), as in
            ``talk.jsonl:2: missing field 'user' (each line needs {"user": str, ...})``.
    """
    for number, line in numbered_lines(path):
        try:
            yield number, model.model_validate_json(line)
        except ValidationError as exc:
            problem = row_problem(exc.errors()[0])
            raise ConfigError(f"{path}:{number}: {problem} (each line needs {expected})") from exc


def read_jsonl(path: Path, model: type[Row], *, expected: str) -> list[Row]:
    """Every non-blank line of ``path`` as a ``model``.

    Raises:
        ConfigError: as :func:`numbered_rows`.
    """
    return [row for _, row in numbered_rows(path, model, expected=expected)]
