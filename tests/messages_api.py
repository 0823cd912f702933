"""A local server that speaks Anthropic's Messages API (POST /v1/messages), for the real SDK.

Replies are scripted from payload files under tests/fixtures/anthropic/; every request it
receives is kept, so tests assert on what actually left the machine.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "anthropic"


def payload(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / f"{name}.json").read_text())
    return data


@dataclass(frozen=True)
class Reply:
    """One scripted answer: a fixture payload (or raw text) with a status and headers."""

    fixture: str = "tool_use_allow"
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0
    raw: str | None = None


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    body: dict[str, Any]

    @property
    def user_text(self) -> str:
        content = self.body["messages"][0]["content"]
        return content if isinstance(content, str) else content[0]["text"]

    @property
    def system_text(self) -> str:
        system = self.body["system"]
        return system if isinstance(system, str) else "".join(b["text"] for b in system)


class MessagesApi:
    """``async with MessagesApi() as api: api.url`` -> base URL; ``api.script(Reply(...))``."""

    def __init__(self, *, default: Reply | None = None) -> None:
        self.default = default or Reply()
        self.received: list[Received] = []
        self._script: list[Reply] = []
        self._runner: web.AppRunner | None = None
        self.url = ""

    def script(self, *replies: Reply) -> None:
        self._script.extend(replies)

    async def _messages(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        headers = {k.lower(): v for k, v in request.headers.items()}
        self.received.append(Received(request.path, headers, body))
        reply = self._script.pop(0) if self._script else self.default
        if reply.delay_s:
            await asyncio.sleep(reply.delay_s)
        headers = {"request-id": f"req_{len(self.received):04d}", **reply.headers}
        text = reply.raw if reply.raw is not None else json.dumps(payload(reply.fixture))
        return web.Response(
            status=reply.status, text=text, content_type="application/json", headers=headers
        )

    async def __aenter__(self) -> MessagesApi:
        app = web.Application()
        app.router.add_post("/v1/messages", self._messages)
        self._runner = web.AppRunner(app, shutdown_timeout=0.1)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        host, port = self._runner.addresses[0][:2]
        self.url = f"http://{host}:{port}"
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
