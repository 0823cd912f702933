"""Mistakes a new operator makes, as they meet them: one line naming the setting, file or option
and the fix, exit code 2, never a traceback (issue 16)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.test_cli import modtriage

BINARY = b"\x89PNG\r\n\x1a\n\x00\x00\xff\xfe"
CONVERSATION_LINE = (
    '{"user": str, "text": str, "channel"?: str, "roles"?: [str], "after_s"?: seconds, '
    '"thread"?: str}'
)
STOCK = Path(__file__).resolve().parent.parent / ".cache" / "encoder" / "all-minilm-l6-v2"


def refused(result: subprocess.CompletedProcess[str], line: str) -> None:
    """The command printed exactly ``error: <line>`` on stderr and exited with 2."""
    assert result.stderr == f"error: {line}\n"
    assert result.returncode == 2


@pytest.mark.parametrize("command", [("queue",), ("classify", "hello"), ("run",)])
def test_a_redis_url_that_is_not_redis_names_the_schemes_and_hides_the_password(
    tmp_path: Path, command: tuple[str, ...]
) -> None:
    result = modtriage(*command, tmp_path=tmp_path, env={"REDIS_URL": "http://ops:hunter2@x"})
    refused(
        result,
        "setting REDIS_URL: must be a redis://, rediss:// or unix:// URL, not "
        "'http://ops:***@x'; fix it, or unset it for an embedded Redis",
    )
    assert "hunter2" not in result.stdout + result.stderr
