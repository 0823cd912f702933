"""Policy files for tests: the default policy with a few keys changed, written to disk."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from tests.conftest import DEFAULT_POLICY


def write_policy(
    path: Path, *, name: str, toxic: tuple[str, ...] = (), moderator_roles: tuple[str, ...] = ()
) -> Path:
    """The default policy as ``name``, deny-listing ``toxic`` words as toxicity and, when
    given, with ``moderator_roles``. Returns the path."""
    raw: dict[str, Any] = yaml.safe_load(DEFAULT_POLICY.read_text())
    raw["name"] = name
    raw["categories"]["toxicity"]["deny"] = list(toxic)
    faq = raw.get("faq", {}).get("file")
    if faq:
        raw["faq"]["file"] = str((DEFAULT_POLICY.parent / faq).resolve())
    if moderator_roles:
        raw["moderators"]["roles"] = list(moderator_roles)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path


def policy_variant(path: Path, edit: Callable[[dict[str, Any]], None]) -> Path:
    """The default policy with FAQ answers off, changed by ``edit`` (on the parsed YAML),
    written to ``path``. Returns the path."""
    raw: dict[str, Any] = yaml.safe_load(DEFAULT_POLICY.read_text())
    raw.pop("faq", None)
    edit(raw)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(raw, sort_keys=False, allow_unicode=True))
    return path
