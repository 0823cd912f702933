"""Reading the YAML files moderators write (policies, FAQ files): every failure is a
:class:`~bot.errors.PolicyError` that names the file, the place and the fix."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from bot.errors import PolicyError

__all__ = ["parse_yaml", "read_text"]


def read_text(path: Path, *, fix: str) -> str:
    """The file's text.

    Raises:
        PolicyError: it cannot be read; ``fix`` says what to check.
    """
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise PolicyError(str(path), "(file)", f"cannot read it ({exc.strerror})", fix) from exc


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
