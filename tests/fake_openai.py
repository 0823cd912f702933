"""A local server speaking the OpenAI-compatible chat completions wire protocol, as vLLM does.

Each request is answered by ``answer(request_json) -> Answer``; every request is recorded, so
tests assert what the far side received. Loopback, port 0.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web


@dataclass(frozen=True)
class Answer:
    content: str = ""
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0
    finish_reason: str = "stop"


def judgement(
    category: str = "none",
    confidence: int = 0,
    route: str = "allow",
    action: str = "none",
    faq: str | None = None,
    rationale: str = "ok",
) -> str:
    """An instruct model's answer, as JSON text."""
    return json.dumps({
        "rationale": rationale, "category": category, "confidence": confidence,
        "route": route, "action": action, "faq": faq,
    })  # fmt: skip


class FakeOpenAI:
    """async with FakeOpenAI(answer=lambda req: Answer(judgement())) as server: ..."""

    def __init__(self, *, answer: Callable[[dict[str, Any]], Answer]) -> None:
        self.answer = answer
        self.received: list[dict[str, Any]] = []
        self._runner: web.AppRunner | None = None
        self.port = 0

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def texts(self) -> list[str]:
        """The member's text of each request, as delimited in the user turn."""
        return [r["messages"][-1]["content"] for r in self.received]

    async def __aenter__(self) -> FakeOpenAI:
        app = web.Application()
        app.router.add_post("/v1/chat/completions", self._chat)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = self._runner.addresses[0][1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _chat(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.received.append(body)
        answer = self.answer(body)
        if answer.delay_s:
            await asyncio.sleep(answer.delay_s)
        if answer.status != 200:
            error = {"error": {"message": "refused", "type": "error", "code": answer.status}}
            return web.json_response(error, status=answer.status, headers=answer.headers)
        return web.json_response({
            "id": f"chatcmpl-{len(self.received)}", "object": "chat.completion",
            "created": int(time.time()), "model": body["model"],
            "choices": [{
                "index": 0, "finish_reason": answer.finish_reason, "logprobs": None,
                "message": {"role": "assistant", "content": answer.content},
            }],
            "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
        })  # fmt: skip
