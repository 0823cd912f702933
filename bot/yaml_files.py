"""Reading the YAML files moderators write (policies, FAQ files): every failure is a
:class:`~bot.errors.PolicyError` that names the file, the place and the fix."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from bot.errors import PolicyError

__all__ = ["parse_yaml", "read_text"]


def read_text(path: Path, *, fix: str) -> str:
    """The file's text (UTF-8).

    Raises:
        PolicyError: it cannot be read (``fix`` says what to check) or is not UTF-8.
    """
    try:
        # utf-8-sig: a byte-order mark at the start (Windows editors write one) is not text
        return path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise PolicyError(str(path), "(file)", f"cannot read it ({exc.strerror})", fix) from exc
    except UnicodeDecodeError as exc:
        line = exc.object[: exc.start].count(b"\n") + 1
        raise PolicyError(
            str(path), f"line {line}", "is not UTF-8 text", "save the file as UTF-8"
        ) from None  # the exception's text repeats the file's bytes


def parse_yaml(path: str, text: str) -> Any:
    """The YAML document in ``text`` (read from ``path``).

    Raises:
        PolicyError: it is not valid YAML; the place is the line and column of the problem.
    """
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "(file)"
        raise PolicyError(path, where, "is not valid YAML", "fix the YAML syntax there") from exc
