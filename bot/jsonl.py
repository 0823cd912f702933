"""Reading the evaluation formats of DESIGN.md: one JSON object per line, validated."""

from __future__ import annotations

from pathlib import Path
from typing import TypeVar

from pydantic import BaseModel, ValidationError

from bot.errors import ConfigError

__all__ = ["read_jsonl"]

Row = TypeVar("Row", bound=BaseModel)


def read_jsonl(path: Path, model: type[Row], *, expected: str) -> list[Row]:
    """Every non-blank line of ``path`` as a ``model``.

    Raises:
        ConfigError: the file cannot be read, or a line is not a valid row; the message names
            the file, the line, the field, and ``expected`` (the row format).
    """
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}") from exc
    rows = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            rows.append(model.model_validate_json(line))
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or "(line)"
            raise ConfigError(
                f"{path}:{number}: {where}: {first['msg']}; a row is {expected}"
            ) from exc
    return rows
