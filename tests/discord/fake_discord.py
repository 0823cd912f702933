"""A local Discord for discord.py's real client: REST on ``/api/v10`` and the gateway on
``/gateway``, both on 127.0.0.1, built from the recorded payloads in ``tests/fixtures/discord``.

It records every REST call it receives (``requests``) so tests assert what Discord *received*,
answers like Discord does (``application/json`` exactly, 204 for deletes, 403 with a JSON
error code when told to refuse) and dispatches gateway events with sequence numbers.
"""

from __future__ import annotations

import asyncio
import copy
import dataclasses
import itertools
import json
import re
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote

from aiohttp import WSMsgType, web

from tests.discord.fake_attachments import FakeCdn
from tests.discord.fake_interactions import Interactions
from tests.discord.fake_rest import ROUTES, fixture

_DISCORD_EPOCH_MS = 1_420_070_400_000

Json = Any


@dataclass(frozen=True)
class Call:
    """One REST request the fake received."""

    method: str
    path: str
    query: dict[str, str]
    body: Json
    reason: str | None = None
    response: Json = None

    def __repr__(self) -> str:
        return f"{self.method} {self.path}"


@dataclass
class _Failure:
    method: str
    pattern: re.Pattern[str]
    status: int
    body: Json
    times: int | None


@dataclass
class FakeDiscord(Interactions):
    bot_user: Json = field(default_factory=lambda: fixture("user_me"))
    application: Json = field(default_factory=lambda: fixture("application"))
    guild: Json = field(default_factory=lambda: fixture("guild_create"))
    requests: list[Call] = field(default_factory=list)
    unhandled: list[Call] = field(default_factory=list)
    identifies: list[Json] = field(default_factory=list)
    messages: dict[str, Json] = field(default_factory=dict)
    automod_rules: dict[str, Json] = field(default_factory=dict)
    cdn: FakeCdn = field(default_factory=FakeCdn)

    def __post_init__(self) -> None:
        self._failures: list[_Failure] = []
        self._sockets: list[web.WebSocketResponse] = []
        self._seq = itertools.count(1)
        self._ids = itertools.count(1)
        self._changed = asyncio.Condition()
        self._runner: web.AppRunner | None = None
        self.interaction_messages: dict[str, Json] = {}
        self.port = 0

    # ---- lifecycle ---------------------------------------------------------------------------
    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/gateway", self._gateway)
        app.router.add_route("*", "/api/v10/{tail:.*}", self._rest)
        self.cdn.mount(app)
        self._runner = web.AppRunner(app, shutdown_timeout=1)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.cdn.base = f"http://127.0.0.1:{self.port}"

    async def stop(self) -> None:
        for ws in list(self._sockets):
            await ws.close()
        if self._runner is not None:
            await self._runner.cleanup()

    @property
    def api_base(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/v10"

    @property
    def gateway_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/gateway"

    # ---- ids and payloads --------------------------------------------------------------------
    def snowflake(self) -> str:
        """A time-based id, as Discord mints them (message age is computed from the id)."""
        return str(((int(time.time() * 1000) - _DISCORD_EPOCH_MS) << 22) | next(self._ids))

    @property
    def guild_id(self) -> str:
        return str(self.guild["id"])

    def channel_id(self, name: str) -> str:
        for channel in self.guild["channels"] + self.guild["threads"]:
            if channel["name"] == name:
                return str(channel["id"])
        raise KeyError(name)

    def member(self, username: str) -> Json:
        for member in self.guild["members"]:
            if member["user"]["username"] == username:
                return member
        raise KeyError(username)

    def user_id(self, username: str) -> str:
        return str(self.member(username)["user"]["id"])

    @staticmethod
    def elsewhere(payload: Json) -> Json:
        """The same payload from another guild the bot is in: the guild, its channels and
        roles get ids 17… instead of 12… (roles keep their names; users are the same)."""
        return json.loads(json.dumps(payload).replace('"1200000000000000', '"1700000000000000'))

    @property
    def other_guild_id(self) -> str:
        return str(self.elsewhere(self.guild)["id"])

    async def join_other_guild(self) -> None:
        """The bot is added to a second guild, with its own Moderator role (same name)."""
        await self.dispatch("GUILD_CREATE", self.elsewhere(self.guild))

    def _from(self, payload: Json, elsewhere: bool, permissions: str | None) -> Json:
        if permissions is not None and "member" in payload:
            payload["member"]["permissions"] = permissions
        return self.elsewhere(payload) if elsewhere else payload

    def dm_channel_id(self, user_id: str) -> str:
        return f"19{user_id[2:]}"

    def stored_message(self, channel_id: str, body: Json, *, author: Json | None = None) -> Json:
        message = {
            "id": self.snowflake(),
            "channel_id": channel_id,
            "author": author or self.bot_user,
            "content": body.get("content") or "",
            "embeds": body.get("embeds") or [],
            "components": body.get("components") or [],
            "timestamp": datetime.now(UTC).isoformat(),
            "edited_timestamp": None,
            "tts": False,
            "mention_everyone": False,
            "mentions": [],
            "mention_roles": [],
            "attachments": [],
            "pinned": False,
            "type": 19 if body.get("message_reference") else 0,
            "flags": body.get("flags") or 0,
        }
        if not channel_id.startswith("19"):
            message["guild_id"] = self.guild_id
        self.messages[message["id"]] = message
        return message

    # ---- what tests do -----------------------------------------------------------------------
    def fail(
        self,
        method: str,
        path: str,
        *,
        status: int = 403,
        body: Json = None,
        times: int | None = None,
    ) -> None:
        """Answer matching requests (``path`` is a regex) with an error, like Discord would."""
        self._failures.append(
            _Failure(
                method,
                re.compile(path),
                status,
                body or {"message": "Missing Permissions", "code": 50013},
                times,
            )
        )

    def calls(self, method: str, path: str) -> list[Call]:
        pattern = re.compile(path)
        return [c for c in self.requests if c.method == method and pattern.fullmatch(c.path)]

    async def wait_for(
        self, method: str, path: str, *, count: int = 1, timeout: float = 10.0
    ) -> list[Call]:
        """Wait until ``count`` matching requests were received; returns them."""

        def done() -> bool:
            return len(self.calls(method, path)) >= count

        async with asyncio.timeout(timeout), self._changed:
            await self._changed.wait_for(done)
        return self.calls(method, path)

    async def dispatch(self, event: str, data: Json) -> None:
        for ws in list(self._sockets):
            await ws.send_str(json.dumps({"op": 0, "t": event, "s": next(self._seq), "d": data}))

    async def say(
        self, text: str, *, user: str = "mallory", channel: str = "general", elsewhere: bool = False
    ) -> Json:
        """A member posts a message: MESSAGE_CREATE from the recorded payload (``elsewhere``:
        in the other guild, see :meth:`join_other_guild`)."""
        payload = copy.deepcopy(fixture("message_create"))
        member = self.member(user)
        payload.update(
            id=self.snowflake(),
            content=text,
            channel_id=self.channel_id(channel),
            author=member["user"],
            timestamp=datetime.now(UTC).isoformat(),
        )
        payload["member"]["roles"] = list(member["roles"])
        payload["member"]["nick"] = member.get("nick")
        if elsewhere:
            payload = self.elsewhere(payload)
        self.messages[payload["id"]] = payload
        await self.dispatch("MESSAGE_CREATE", payload)
        return payload

    async def edit(self, message: Json, text: str) -> Json:
        payload = copy.deepcopy(fixture("message_update"))
        payload.update(
            id=message["id"],
            channel_id=message["channel_id"],
            author=message["author"],
            content=text,
            member=message["member"],
            timestamp=message["timestamp"],
            edited_timestamp=datetime.now(UTC).isoformat(),
        )
        await self.dispatch("MESSAGE_UPDATE", payload)
        return payload

    async def wait_for_any(self, path: str, *, count: int = 1, timeout: float = 10.0) -> None:
        pattern = re.compile(path)

        def done() -> bool:
            return sum(1 for c in self.requests if pattern.fullmatch(c.path)) >= count

        async with asyncio.timeout(timeout), self._changed:
            await self._changed.wait_for(done)

    # ---- gateway -----------------------------------------------------------------------------
    async def _gateway(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        self._sockets.append(ws)
        await ws.send_str(json.dumps({"op": 10, "d": {"heartbeat_interval": 41250}}))
        try:
            async for frame in ws:
                if frame.type is not WSMsgType.TEXT:
                    continue
                message = json.loads(frame.data)
                op = message["op"]
                if op == 1:
                    await ws.send_str(json.dumps({"op": 11}))
                elif op == 2:
                    self.identifies.append(message["d"])
                    ready = fixture("ready")
                    ready["resume_gateway_url"] = self.gateway_url
                    ready["guilds"] = [{"id": self.guild_id, "unavailable": True}]
                    await ws.send_str(
                        json.dumps({"op": 0, "t": "READY", "s": next(self._seq), "d": ready})
                    )
                    await ws.send_str(
                        json.dumps(
                            {"op": 0, "t": "GUILD_CREATE", "s": next(self._seq), "d": self.guild}
                        )
                    )
                elif op == 6:
                    await ws.send_str(
                        json.dumps({"op": 0, "t": "RESUMED", "s": next(self._seq), "d": {}})
                    )
        finally:
            self._sockets.remove(ws)
        return ws

    # ---- REST --------------------------------------------------------------------------------
    async def _rest(self, request: web.Request) -> web.Response:
        path = "/" + request.match_info["tail"]
        body: Json = None
        if request.can_read_body:
            if request.content_type.startswith("multipart/"):
                form = await request.post()
                body = json.loads(str(form.get("payload_json") or "null"))
            else:
                raw = await request.read()
                body = json.loads(raw) if raw else None
        reason = request.headers.get("X-Audit-Log-Reason")
        call = Call(
            request.method, path, dict(request.query), body, unquote(reason) if reason else None
        )
        status, payload = await self._answer(call)
        async with self._changed:
            self.requests.append(dataclasses.replace(call, response=payload))
            self._changed.notify_all()
        if status == 204:
            return web.Response(status=204)
        # exactly application/json: discord.py ignores bodies with "; charset=utf-8"
        return web.Response(
            status=status, body=json.dumps(payload).encode(), content_type="application/json"
        )

    async def _answer(self, call: Call) -> tuple[int, Json]:
        for failure in self._failures:
            if failure.method == call.method and failure.pattern.fullmatch(call.path):
                if failure.times is not None:
                    if failure.times <= 0:
                        continue
                    failure.times -= 1
                return failure.status, failure.body
        for method, pattern, handler in ROUTES:
            if method == call.method:
                match = pattern.fullmatch(call.path)
                if match:
                    return await handler(self, match, call)
        self.unhandled.append(call)
        return 404, {"message": f"fake Discord has no route for {call!r}", "code": 0}
