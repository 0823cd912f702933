"""``modtriage worker --processes N``: N worker processes under one parent, every core busy.

One worker runs the model on one core (one intra-op thread), so a machine's cores are used by
running one worker process per core. The parent starts ``N`` children (``modtriage worker
--processes 1``, same settings), restarts one that dies (SIGKILL, out of memory, a crash) after
a back-off that doubles from 1 s to 30 s while it keeps dying and resets once it has run a
minute, and on SIGTERM or SIGINT passes the signal on and waits for them to finish their
batch. The children are consumers of the same group, so a dead one's entries are claimed by
the others as today (XAUTOCLAIM). A child watches its parent and stops if the parent is gone,
so a SIGKILLed parent leaves no orphan.

Child ``i`` serves its metrics on ``MODTRIAGE_METRICS_PORT + i`` (one registry per process;
Prometheus scrapes each), and without ``REDIS_URL`` the parent starts the embedded Redis and
hands its socket to the children.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import structlog

__all__ = ["PARENT_ENV", "Supervisor", "child_command", "default_processes", "watch_parent"]

log = structlog.get_logger(__name__)

#: Set in a child's environment to its parent's pid: the child stops when that parent is gone.
PARENT_ENV = "MODTRIAGE_SUPERVISOR_PID"

_BACKOFF_START_S = 1.0
_BACKOFF_MAX_S = 30.0
_HEALTHY_AFTER_S = 60.0
_STOP_GRACE_S = 30.0


def default_processes() -> int:
    """The CPUs this process may run on (its affinity), at least one."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


@dataclass
class _Child:
    index: int
    process: subprocess.Popen[bytes] | None = None
    started_at: float = 0.0
    backoff_s: float = _BACKOFF_START_S
    due_at: float = 0.0
    restarts: int = 0


@dataclass
class Supervisor:
    """Runs ``processes`` copies of ``command`` until :meth:`stop`; see the module."""

    command: Sequence[str]
    processes: int
    env: Mapping[str, str]
    metrics_port: int | None = None
    poll_s: float = 0.2
    _children: list[_Child] = field(default_factory=list)
    _stopping: threading.Event = field(default_factory=threading.Event)

    def _child_env(self, index: int) -> dict[str, str]:
        env = dict(self.env) | {PARENT_ENV: str(os.getpid())}
        if self.metrics_port is not None:
            env["MODTRIAGE_METRICS_PORT"] = str(self.metrics_port + index)
        return env

    def _start(self, child: _Child) -> None:
        child.process = subprocess.Popen(  # noqa: S603 - our own command line, no shell
            list(self.command), env=self._child_env(child.index)
        )
        child.started_at = time.monotonic()
        log.info("worker process started", index=child.index, pid=child.process.pid)

    @property
    def pids(self) -> list[int]:
        """The children running now, by index (a child between restarts is left out)."""
        return [c.process.pid for c in self._children if c.process and c.process.poll() is None]

    @property
    def restarts(self) -> int:
        return sum(c.restarts for c in self._children)

    def run(self) -> int:
        """Start the children and keep them running until :meth:`stop`; returns 0."""
        self._children = [_Child(index=i) for i in range(self.processes)]
        for child in self._children:
            self._start(child)
        while not self._stopping.wait(self.poll_s):
            now = time.monotonic()
            for child in self._children:
                self._tend(child, now)
        self._shutdown()
        return 0

    def _tend(self, child: _Child, now: float) -> None:
        process = child.process
        if process is not None:
            code = process.poll()
            if code is None:
                if now - child.started_at >= _HEALTHY_AFTER_S:
                    child.backoff_s = _BACKOFF_START_S
                return
            ran_s = now - child.started_at
            child.process = None
            child.due_at = now + child.backoff_s
            log.warning(
                "worker process exited; restarting it",
                index=child.index, pid=process.pid, exit_code=code,
                ran_s=round(ran_s, 1), restart_in_s=child.backoff_s,
            )  # fmt: skip
            child.backoff_s = min(child.backoff_s * 2, _BACKOFF_MAX_S)
            return
        if now >= child.due_at:
            child.restarts += 1
            self._start(child)

    def stop(self) -> None:
        """Ask :meth:`run` to pass SIGTERM on, wait for the children and return."""
        self._stopping.set()

    def _shutdown(self) -> None:
        running = [c.process for c in self._children if c.process and c.process.poll() is None]
        for process in running:
            process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + _STOP_GRACE_S
        for process in running:
            try:
                process.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                log.warning("worker process did not stop in time; killing it", pid=process.pid)
                process.kill()
                process.wait()


def watch_parent(on_gone: Callable[[], None]) -> threading.Thread | None:
    """In a supervised child: call ``on_gone()`` once when the supervisor has died.

    Returns the watching thread, or None when this process is not supervised.
    """
    wanted = os.environ.get(PARENT_ENV)
    if not wanted:
        return None

    def watch() -> None:
        while os.getppid() == int(wanted):
            time.sleep(1.0)
        log.warning("supervisor is gone; stopping this worker", supervisor_pid=wanted)
        on_gone()

    thread = threading.Thread(target=watch, name="watch-supervisor", daemon=True)
    thread.start()
    return thread


def child_command(processes: int = 1) -> list[str]:
    """``modtriage worker --processes N`` on this interpreter: a supervisor's child (N = 1),
    or a whole supervisor (the bench starts one)."""
    return [sys.executable, "-m", "bot", "worker", "--processes", str(processes)]
