"""``--help`` on every command reads cleanly in an 80-column terminal: flags are plain flags
(``--json``, not ``--json <bool>``) and each command's summary is a whole sentence (issue 16)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import typer
from typer.testing import CliRunner

from bot.cli import app


def _commands(command: object, path: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    yield path
    for name, sub in sorted(getattr(command, "commands", {}).items()):
        yield from _commands(sub, (*path, name))


COMMANDS = list(_commands(typer.main.get_command(app)))


def test_every_command_is_walked() -> None:
    assert len(COMMANDS) >= 25
    assert {("train",), ("eval", "moderation"), ("faq", "channel")} <= set(COMMANDS)


@pytest.mark.parametrize("path", COMMANDS, ids=lambda p: " ".join(p) or "modtriage")
def test_help_shows_plain_flags_and_whole_sentences(path: tuple[str, ...]) -> None:
    result = CliRunner().invoke(app, [*path, "--help"], env={"COLUMNS": "80"})
    assert result.exit_code == 0, result.output
    assert "<bool>" not in result.output
    listed = result.output.partition("\nCommands:\n")[2]
    cut = [line for line in listed.splitlines() if line.endswith("...")]
    assert cut == [], "command summaries cut mid-sentence"
    assert max(len(line) for line in result.output.splitlines()) <= 80
