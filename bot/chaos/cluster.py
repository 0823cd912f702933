"""The processes a chaos scenario runs and kills: pipeline workers and one action dispatcher.

Each is a real process started the way an operator starts one (``python -m bot worker``; the
console dispatcher ``python -m bot.chaos.dispatcher``), configured only through the
environment (``REDIS_URL``, ``MODTRIAGE_*``), with its log in the scenario's directory.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

from bot.runtime import consumer_name

__all__ = ["Cluster", "Proc"]

_REPO = Path(__file__).resolve().parent.parent.parent


class Proc:
    """One started process and the consumer name it reads its stream under."""

    def __init__(self, *, role: str, popen: subprocess.Popen[bytes]) -> None:
        self.role = role
        self.popen = popen
        self.consumer = consumer_name(role, pid=popen.pid)

    @property
    def alive(self) -> bool:
        return self.popen.poll() is None

    def signal(self, sig: signal.Signals) -> None:
        if self.alive:
            self.popen.send_signal(sig)

    def kill(self) -> int:
        """SIGKILL and reap; returns the exit status."""
        self.signal(signal.SIGKILL)
        return self.popen.wait(timeout=10)

    def terminate(self) -> None:
        """Ask for a clean shutdown (SIGTERM); a process a fault left stopped is woken first,
        or it could not handle the signal."""
        self.signal(signal.SIGCONT)
        self.signal(signal.SIGTERM)

    def wait(self, timeout_s: float = 15.0) -> int:
        """Its exit status; SIGKILL when it has not exited in time."""
        try:
            return self.popen.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            return self.kill()


class Cluster:
    """Workers and a console dispatcher on one Redis and namespace.

    ``env``: the settings every process gets on top of the URL, namespace and data directory
    (claim times, the classifier and its model server). Variables of the caller's own
    ``MODTRIAGE_*`` and ``REDIS_URL`` are not passed on: a scenario states all it runs with.
    """

    def __init__(
        self,
        *,
        redis_url: str,
        namespace: str,
        workdir: Path,
        record: Path,
        env: Mapping[str, str] = {},  # read only
    ) -> None:
        self.workdir = workdir
        self.record = record
        inherited = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith("MODTRIAGE_") and k not in {"REDIS_URL", "ANTHROPIC_API_KEY"}
        }
        self._env = {
            **inherited,
            "REDIS_URL": redis_url,
            "MODTRIAGE_NAMESPACE": namespace,
            "MODTRIAGE_DATA_DIR": str(workdir / "data"),
            "MODTRIAGE_LOG_FORMAT": "json",
            **env,
        }
        self.workers: list[Proc] = []
        self.dispatcher: Proc | None = None
        self.retired: list[Proc] = []

    def _spawn(self, role: str, args: list[str]) -> Proc:
        with (self.workdir / f"{role}.log").open("ab") as log:
            popen = subprocess.Popen(  # noqa: S603 - this interpreter running this project
                [sys.executable, *args], env=self._env, cwd=_REPO,
                stdin=subprocess.DEVNULL, stdout=log, stderr=log,
            )  # fmt: skip
        return Proc(role=role, popen=popen)

    def start_worker(self) -> Proc:
        proc = self._spawn("worker", ["-m", "bot", "worker", "--processes", "1"])
        self.workers.append(proc)
        return proc

    def start_dispatcher(self) -> Proc:
        """A console dispatcher; the one before it must be gone (one consumer at a time)."""
        if self.dispatcher is not None and self.dispatcher.alive:
            raise RuntimeError("a dispatcher is already running")
        proc = self._spawn("console", ["-m", "bot.chaos.dispatcher", str(self.record)])
        self.dispatcher = proc
        return proc

    def replace_worker(self, dead: Proc) -> Proc:
        """Take a killed worker out and start another (a new consumer name)."""
        self.workers.remove(dead)
        self.retired.append(dead)
        return self.start_worker()

    def replace_dispatcher(self) -> Proc:
        if self.dispatcher is not None:
            self.retired.append(self.dispatcher)
        return self.start_dispatcher()

    def ready(self) -> bool:
        """Whether every running process has said, in its log, that it is ready (the worker
        once its model is loaded, the dispatcher once connected)."""
        said = "".join(
            (self.workdir / f"{role}.log").read_text(errors="replace")
            for role in ("worker", "console")
            if (self.workdir / f"{role}.log").exists()
        )
        running = [*self.workers, *([self.dispatcher] if self.dispatcher else [])]
        return all(f"{p.consumer} ready" in said for p in running)

    def crashed(self) -> list[str]:
        """Processes that exited by themselves (not killed by a fault): a finding."""
        running = [*self.workers, *([self.dispatcher] if self.dispatcher else [])]
        return [f"{p.role} {p.popen.pid} exited {p.popen.returncode}"
                for p in running if not p.alive]  # fmt: skip

    def stop(self) -> list[int]:
        """Stop every process still running, all at once; returns their exit statuses."""
        running = [p for p in (*self.workers, self.dispatcher) if p is not None and p.alive]
        for proc in running:
            proc.terminate()
        return [proc.wait() for proc in running]
