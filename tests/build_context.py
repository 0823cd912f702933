"""The files ``docker build`` sends from the repository root: everything ``.dockerignore``
does not exclude. The install test builds its wheel from a copy of exactly these."""

from __future__ import annotations

import shutil
from fnmatch import fnmatch
from pathlib import Path

from tests.conftest import ROOT

__all__ = ["copy_context", "ignore_patterns"]


def ignore_patterns(root: Path = ROOT) -> list[str]:
    """The patterns of ``.dockerignore``; only the forms this reader understands (a path
    pattern from the root, or ``**/name``): anything else fails here, not silently."""
    lines = (root / ".dockerignore").read_text().splitlines()
    patterns = [line.strip() for line in lines if line.strip() and not line.startswith("#")]
    for pattern in patterns:
        assert not pattern.startswith("!"), f"exceptions are not read here: {pattern}"
        assert "**" not in pattern.removeprefix("**/"), f"unsupported pattern: {pattern}"
    return patterns


def _ignored(relative: str, patterns: list[str]) -> bool:
    name = relative.rsplit("/", 1)[-1]
    return any(
        fnmatch(name, p[3:]) if p.startswith("**/") else fnmatch(relative, p) for p in patterns
    )


def copy_context(dest: Path, root: Path = ROOT) -> Path:
    """Copy the build context of ``root`` into ``dest``; returns ``dest``."""
    patterns = ignore_patterns(root)

    def skip(folder: str, names: list[str]) -> set[str]:
        base = Path(folder).relative_to(root).as_posix()
        prefix = "" if base == "." else base + "/"
        return {n for n in names if _ignored(prefix + n, patterns)}

    shutil.copytree(root, dest, ignore=skip, symlinks=True)
    return dest
