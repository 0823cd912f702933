"""``modtriage run --stdin`` as a person types: each line is judged and printed at once, while
stdin is still open (issue 16)."""

from __future__ import annotations

import os
import queue
import subprocess
import sys
import threading
from pathlib import Path

PATIENCE_S = 120  # generous: a slow, shared machine; nothing here measures time


class Session:
    """``modtriage run --stdin`` in a subprocess, read line by line as a terminal shows it."""

    def __init__(self, tmp_path: Path) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("MODTRIAGE_")}
        env.pop("REDIS_URL", None)
        env |= {"MODTRIAGE_DATA_DIR": str(tmp_path / "data"), "MODTRIAGE_CLASSIFIER": "rules",
                "COLUMNS": "200"}  # fmt: skip
        self.process = subprocess.Popen(
            [sys.executable, "-m", "bot", "run", "--stdin"], env=env, cwd=tmp_path, text=True,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )  # fmt: skip
        self.lines: queue.Queue[str] = queue.Queue()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put(line.rstrip("\n"))

    def type(self, text: str) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(text + "\n")
        self.process.stdin.flush()

    def read_until(self, marker: str) -> list[str]:
        """The lines printed up to and including the first one holding ``marker``."""
        seen: list[str] = []
        while not seen or marker not in seen[-1]:
            try:
                seen.append(self.lines.get(timeout=PATIENCE_S))
            except queue.Empty:
                self.process.kill()
                raise AssertionError(f"no {marker!r} while stdin is open; got {seen}") from None
        return seen

    def close(self) -> tuple[int, list[str], str]:
        assert self.process.stdin is not None
        assert self.process.stderr is not None
        self.process.stdin.close()
        code = self.process.wait(timeout=PATIENCE_S)
        self._reader.join(timeout=PATIENCE_S)  # the output to its end
        rest = []
        while not self.lines.empty():
            rest.append(self.lines.get())
        errors = self.process.stderr.read()
        for pipe in (self.process.stdout, self.process.stderr):
            if pipe is not None:
                pipe.close()
        return code, rest, errors


def test_each_typed_line_is_judged_before_the_next_is_typed(tmp_path: Path) -> None:
    session = Session(tmp_path)
    try:
        assert session.read_until("Ctrl-D ends")[-1] == "Type messages, one per line; Ctrl-D ends."
        session.type("join discord.gg/spam123 now")
        shown = session.read_until("→")
        assert shown[-2].endswith("#stdin @you: 'join discord.gg/spam123 now'")
        assert shown[-1].startswith("   → ACT spam · rules: spam (link:invite on 'discord.gg/")
        session.type("see [/bold] in the docs")  # rich markup in a message is text, not style
        shown = session.read_until("→")
        assert shown[-2].endswith("#stdin @you: 'see [/bold] in the docs'")
        assert shown[-1] == "   → ALLOW"
    finally:
        code, rest, errors = session.close()
    assert code == 0, errors
    assert rest[-1] == "2 messages decided."
