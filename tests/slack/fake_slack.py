"""A local server that speaks Slack's Web API, Socket Mode websocket and response URLs.

It records every call it receives (method, arguments, token) and answers like Slack does:
``{"ok": true, ...}`` with plausible fields, ``{"ok": false, "error": ...}`` for refusals, and
HTTP 429 with ``Retry-After`` for rate limits. Tests queue refusals with :meth:`refuse` and
:meth:`rate_limit`, then assert on :attr:`calls`.
"""

from __future__ import annotations

import asyncio
import itertools
import json
from collections import defaultdict, deque
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web

BOT_USER = "UBOT"
BOT_ID = "BBOT"
TEAM = "T0TEAM"


@dataclass
class Call:
    method: str
    args: dict[str, Any]
    token: str | None


@dataclass
class FakeSlack:
    users: dict[str, dict[str, Any]] = field(default_factory=dict)
    usergroups: list[dict[str, Any]] = field(default_factory=list)
    channels: dict[str, str] = field(
        default_factory=lambda: {"general": "C0GENERAL", "mods": "C0MODS", "alerts": "C0ALERTS"}
    )
    history: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    calls: list[Call] = field(default_factory=list)
    responses: list[dict[str, Any]] = field(default_factory=list)
    socket_acks: list[dict[str, Any]] = field(default_factory=list)
    socket_connects: int = 0

    def __post_init__(self) -> None:
        self._faults: dict[str, deque[tuple[int, dict[str, Any]]]] = defaultdict(deque)
        self._ts = itertools.count(1)
        self._changed = asyncio.Condition()
        self._ws: web.WebSocketResponse | None = None
        self._runner: web.AppRunner | None = None
        self.base = ""

    # -- setup --------------------------------------------------------------------------------

    async def start(self) -> str:
        app = web.Application()
        app.router.add_route("*", "/api/{method}", self._api)  # users.info etc. use GET
        app.router.add_post("/response/{hook}", self._response)
        app.router.add_get("/ws", self._socket)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.base = f"http://127.0.0.1:{port}"
        return f"{self.base}/api/"

    async def stop(self) -> None:
        if self._ws is not None:
            await self._ws.close()
        if self._runner is not None:
            await self._runner.cleanup()

    @property
    def api_url(self) -> str:
        return f"{self.base}/api/"

    def response_url(self, hook: str = "hook") -> str:
        return f"{self.base}/response/{hook}"

    def refuse(self, method: str, error: str, *, times: int = 1) -> None:
        for _ in range(times):
            self._faults[method].append((200, {"ok": False, "error": error}))

    def rate_limit(self, method: str, *, times: int = 1) -> None:
        for _ in range(times):
            self._faults[method].append((429, {"ok": False, "error": "ratelimited"}))

    # -- assertions ---------------------------------------------------------------------------

    def received(self, method: str) -> list[Call]:
        return [c for c in self.calls if c.method == method]

    @property
    def methods(self) -> list[str]:
        """Methods called, in order, leaving out look-ups that carry no effect."""
        quiet = {"auth.test", "chat.getPermalink", "users.info", "usergroups.list", "users.list"}
        quiet |= {"conversations.list"}
        return [c.method for c in self.calls if c.method not in quiet]

    async def wait_for(self, method: str, count: int = 1, within_s: float = 10.0) -> list[Call]:
        async def enough() -> None:
            async with self._changed:
                await self._changed.wait_for(lambda: len(self.received(method)) >= count)

        try:
            await asyncio.wait_for(enough(), within_s)
        except TimeoutError:
            raise AssertionError(
                f"fake Slack got {len(self.received(method))} {method} call(s), wanted {count}; "
                f"calls: {self.methods}"
            ) from None
        return self.received(method)

    async def wait_responses(self, count: int = 1, within_s: float = 10.0) -> list[dict[str, Any]]:
        async def enough() -> None:
            async with self._changed:
                await self._changed.wait_for(lambda: len(self.responses) >= count)

        await asyncio.wait_for(enough(), within_s)
        return self.responses

    # -- socket mode --------------------------------------------------------------------------

    async def wait_socket(self, within_s: float = 10.0) -> None:
        async def connected() -> None:
            async with self._changed:
                await self._changed.wait_for(lambda: self._ws is not None)

        await asyncio.wait_for(connected(), within_s)

    @property
    def connected(self) -> bool:
        return self._ws is not None and not self._ws.closed

    async def send_raw(self, text: str) -> None:
        await self.wait_socket()
        assert self._ws is not None
        await self._ws.send_str(text)

    async def send_envelope(
        self, envelope: dict[str, Any], within_s: float = 10.0
    ) -> dict[str, Any]:
        """Send one envelope over the socket and return the app's ack for it."""
        await self.wait_socket()
        assert self._ws is not None
        await self._ws.send_str(json.dumps(envelope))

        async def acked() -> dict[str, Any]:
            async with self._changed:
                await self._changed.wait_for(
                    lambda: any(
                        a.get("envelope_id") == envelope["envelope_id"] for a in self.socket_acks
                    )
                )
            return next(a for a in self.socket_acks if a["envelope_id"] == envelope["envelope_id"])

        return await asyncio.wait_for(acked(), within_s)

    async def _socket(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        self.socket_connects += 1
        await ws.send_str(json.dumps({"type": "hello", "num_connections": 1}))
        async with self._changed:
            self._ws = ws
            self._changed.notify_all()
        async for msg in ws:
            if msg.type == WSMsgType.TEXT:
                async with self._changed:
                    self.socket_acks.append(json.loads(msg.data))
                    self._changed.notify_all()
        if self._ws is ws:
            self._ws = None
        return ws

    # -- HTTP ---------------------------------------------------------------------------------

    async def _response(self, request: web.Request) -> web.Response:
        body = await request.json()
        async with self._changed:
            self.responses.append({"hook": request.match_info["hook"], **body})
            self._changed.notify_all()
        return web.Response(text="ok")

    async def _api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        # The SDK sends some methods' arguments as a query string, others as a form or JSON.
        args: dict[str, Any] = dict(request.query)
        if request.content_type == "application/json":
            args.update(await request.json())
        else:
            args.update(await request.post())
        auth = request.headers.get("Authorization", "")
        token = auth.removeprefix("Bearer ") if auth else args.pop("token", None)
        async with self._changed:
            self.calls.append(Call(method, args, token))
            self._changed.notify_all()
        if self._faults[method]:
            status, body = self._faults[method].popleft()
            headers = {"Retry-After": "0"} if status == 429 else {}
            return web.json_response(body, status=status, headers=headers)
        return web.json_response(self._answer(method, args))

    def _history(self, method: str, channel: str, args: dict[str, Any]) -> list[dict[str, Any]]:
        """As Slack pages them: up to ``latest`` (``inclusive`` or not), ``limit`` at most
        (Slack's default 100); history newest first, a thread's replies from its root on."""
        latest = float(args.get("latest") or "inf")
        inclusive = str(args.get("inclusive", "")).lower() in {"1", "true"}
        limit = int(args.get("limit") or 100)

        def before(message: dict[str, Any]) -> bool:
            ts = float(message["ts"])
            return ts < latest or (inclusive and ts == latest)

        kept = [m for m in self.history[channel] if before(m)]
        if method == "conversations.replies":
            root = str(args.get("ts"))
            thread = [m for m in kept if root in {m["ts"], m.get("thread_ts")}]
            return sorted(thread, key=lambda m: float(m["ts"]))[:limit]
        return sorted(kept, key=lambda m: -float(m["ts"]))[:limit]

    def _answer(self, method: str, args: dict[str, Any]) -> dict[str, Any]:
        ok: dict[str, Any] = {"ok": True}
        if method == "auth.test":
            return ok | {
                "user_id": BOT_USER,
                "bot_id": BOT_ID,
                "team_id": TEAM,
                "user": "modtriage",
            }
        if method == "apps.connections.open":
            return ok | {"url": self.base.replace("http", "ws", 1) + "/ws"}
        if method == "chat.postMessage":
            ts = f"1764300000.{next(self._ts):06d}"
            return ok | {"channel": args.get("channel"), "ts": ts, "message": {"ts": ts, **args}}
        if method == "chat.postEphemeral":
            return ok | {"message_ts": f"1764300000.{next(self._ts):06d}"}
        if method == "chat.getPermalink":
            channel, ts = args.get("channel"), str(args.get("message_ts", ""))
            return ok | {
                "permalink": f"https://test.slack.com/archives/{channel}/p{ts.replace('.', '')}"
            }
        if method == "users.info":
            user = self.users.get(str(args.get("user")))
            return ok | {"user": user} if user else {"ok": False, "error": "user_not_found"}
        if method == "users.list":
            return ok | {"members": list(self.users.values())}
        if method == "conversations.list":
            listed = [{"id": i, "name": n, "is_member": True} for n, i in self.channels.items()]
            return ok | {"channels": listed}
        if method == "usergroups.list":
            return ok | {"usergroups": self.usergroups}
        if method in {"conversations.history", "conversations.replies"}:
            channel = str(args.get("channel"))
            if channel not in self.history:
                return {"ok": False, "error": "channel_not_found"}
            return ok | {"messages": self._history(method, channel, args)}
        if method == "views.open":
            view = args.get("view", {})
            return ok | {
                "view": {"id": "V1", **(json.loads(view) if isinstance(view, str) else view)}
            }
        if method in {
            "chat.update", "chat.delete", "reactions.add", "conversations.kick",
            "conversations.invite",
        }:  # fmt: skip
            return ok | {"channel": args.get("channel"), "ts": args.get("ts")}
        return {"ok": False, "error": "unknown_method"}
