"""What a Kubernetes probe sees of a real modtriage process: GETs on its metrics port."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import aiohttp

from bot.chaos.redis_server import free_port

__all__ = ["ServiceProcess", "free_port"]


class ServiceProcess:
    """``modtriage <command>`` in its own process, its stderr in ``log``, probed on its
    metrics port. Only the settings given (and ``MODTRIAGE_METRICS_PORT``) reach it."""

    def __init__(
        self, *command: str, env: dict[str, str], cwd: Path, program: str | None = None
    ) -> None:
        self.port = free_port()
        self.log = cwd / f"{command[0]}.log"
        base = {k: v for k, v in os.environ.items() if not k.startswith("MODTRIAGE_")}
        base.pop("REDIS_URL", None)
        args = [program, *command] if program else [sys.executable, "-m", "bot", *command]
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                args, env=base | env | {"MODTRIAGE_METRICS_PORT": str(self.port)}, cwd=cwd,
                stdout=subprocess.DEVNULL, stderr=log,
            )  # fmt: skip

    async def get(self, path: str) -> tuple[int, Any]:
        """The status and JSON body of ``GET path`` (``/healthz``, ``/readyz``)."""
        async with (
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as http,
            http.get(f"http://127.0.0.1:{self.port}{path}") as response,
        ):
            return response.status, json.loads(await response.text())

    async def answers(self, path: str, status: int, within_s: float = 90.0) -> Any:
        """Poll ``path`` until it answers ``status``; returns that body. Fails with the log
        when the process exits first or the time runs out."""
        seen: object = "no answer"
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within_s
        while loop.time() < deadline:
            assert self.process.poll() is None, self.stderr()
            try:
                code, body = await self.get(path)
                if code == status:
                    return body
                seen = (code, body)
            except aiohttp.ClientConnectionError as exc:
                seen = exc
            await asyncio.sleep(0.1)
        raise AssertionError(f"{path} never answered {status}; last {seen!r}\n{self.stderr()}")

    async def logged(self, text: str, within_s: float = 90.0) -> None:
        """Wait until the process has written ``text`` to its log."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within_s
        while text not in self.stderr():
            assert self.process.poll() is None, self.stderr()
            assert loop.time() < deadline, f"never logged {text!r}:\n{self.stderr()}"
            await asyncio.sleep(0.1)

    def stderr(self) -> str:
        return self.log.read_text(errors="replace")

    def stop(self) -> int:
        """SIGTERM, as a container runtime stops it; returns the exit code."""
        if self.process.poll() is None:
            self.process.terminate()
        return self.process.wait(timeout=30)
