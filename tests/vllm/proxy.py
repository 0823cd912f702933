"""A recording reverse proxy on loopback: tests assert what the vLLM server received."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp import web


@dataclass(frozen=True)
class Exchange:
    path: str
    request: dict[str, Any]
    status: int
    response: dict[str, Any] = field(default_factory=dict)


class RecordingProxy:
    """Forwards every request to ``upstream`` and records the JSON both ways.

    async with RecordingProxy(upstream="http://127.0.0.1:8000") as proxy:
        client = AsyncOpenAI(base_url=proxy.base_url, ...)
    """

    def __init__(self, *, upstream: str) -> None:
        self.upstream = upstream
        self.exchanges: list[Exchange] = []
        self.requests_seen = 0
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None
        self.port = 0

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    async def __aenter__(self) -> RecordingProxy:
        self._session = aiohttp.ClientSession()
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._forward)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = self._runner.addresses[0][1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
        if self._session is not None:
            await self._session.close()

    async def _forward(self, request: web.Request) -> web.StreamResponse:
        assert self._session is not None
        body = await request.read()
        self.requests_seen += 1
        try:
            async with self._session.request(
                request.method,
                f"{self.upstream}{request.path_qs}",
                data=body,
                headers={"content-type": request.headers.get("content-type", "application/json")},
            ) as upstream:
                payload = await upstream.read()
                status = upstream.status
                content_type = upstream.headers.get("content-type", "application/json")
        except aiohttp.ClientError:
            # the server is gone: answer as a dead upstream would look through a gateway
            return web.Response(status=502, text="upstream unreachable")
        if body and "json" in content_type:
            self.exchanges.append(
                Exchange(request.path, json.loads(body), status, json.loads(payload or b"{}"))
            )
        return web.Response(status=status, body=payload, headers={"content-type": content_type})

    def completions(self) -> list[Exchange]:
        return [e for e in self.exchanges if e.path.endswith("completions")]
