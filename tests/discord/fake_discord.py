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
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from aiohttp import WSMsgType, web

from tests.discord.fake_attachments import FakeCdn
from tests.discord.fake_toolkit import ROUTES as TOOLKIT_ROUTES

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "discord"
_DISCORD_EPOCH_MS = 1_420_070_400_000

Json = Any
Handler = Callable[["FakeDiscord", re.Match[str], "Call"], Awaitable[tuple[int, Json]]]


def fixture(name: str) -> Json:
    return json.loads((FIXTURES / f"{name}.json").read_text())


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
class FakeDiscord:
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
        self._interaction_messages: dict[str, Json] = {}
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

    def _message(self, channel_id: str, body: Json, *, author: Json | None = None) -> Json:
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

    def _interaction(self, name: str, user: str) -> Json:
        payload = copy.deepcopy(fixture(name))
        member = self.member(user)
        payload["id"] = self.snowflake()
        payload["token"] = f"token-{payload['id']}"
        payload["member"]["user"] = member["user"]
        payload["member"]["roles"] = list(member["roles"])
        if not member["roles"]:
            payload["member"]["permissions"] = "2222085186637376"
        return payload

    async def slash(
        self,
        *path: str,
        user: str = "morgan",
        members: dict[str, str] | None = None,
        elsewhere: bool = False,
        permissions: str | None = None,
        channel: str | None = None,
        files: dict[str, tuple[str, bytes]] | None = None,
        **options: Json,
    ) -> Json:
        """``/mod queue`` is ``slash("queue")``; ``/mod policy reload`` is
        ``slash("policy", "reload")``. Options are typed by their Python value; ``members``
        names user options (``members={"member": "mallory"}``), resolved as Discord does;
        ``files`` attachment options (``files={"policy_file": ("p.yaml", b"...")}``)."""
        payload = self._interaction("interaction_command", user)
        typed = [
            {
                "name": k,
                "type": 5 if isinstance(v, bool) else 4 if isinstance(v, int) else 3,
                "value": v,
            }
            for k, v in options.items()
        ]
        resolved: Json = {"users": {}, "members": {}, "attachments": {}}
        for option, (filename, content) in (files or {}).items():
            attachment = self.cdn.attachment(filename, content)
            typed.append({"name": option, "type": 11, "value": attachment["id"]})
            resolved["attachments"][attachment["id"]] = attachment
        for option, username in (members or {}).items():
            member = self.member(username)
            user_id = member["user"]["id"]
            typed.append({"name": option, "type": 6, "value": user_id})
            resolved["users"][user_id] = member["user"]
            resolved["members"][user_id] = {k: v for k, v in member.items() if k != "user"} | {
                "permissions": "2222085186637376"
            }
        node: Json = {"name": path[-1], "type": 1, "options": typed}
        for parent in reversed(path[:-1]):
            node = {"name": parent, "type": 2, "options": [node]}
        payload["data"]["options"] = [node]
        if members or files:
            payload["data"]["resolved"] = resolved
        if channel is not None:  # typed in another channel than the moderators'
            payload["channel_id"] = self.channel_id(channel)
            payload["channel"].update(id=payload["channel_id"], name=channel)
        payload = self._from(payload, elsewhere, permissions)
        await self.dispatch("INTERACTION_CREATE", payload)
        return payload

    async def report(self, message: Json, *, user: str = "alice") -> Json:
        payload = self._interaction("interaction_message_command", user)
        payload["data"]["target_id"] = message["id"]
        payload["data"]["resolved"] = {"messages": {message["id"]: message}}
        await self.dispatch("INTERACTION_CREATE", payload)
        return payload

    async def click(
        self,
        message: Json,
        custom_id: str,
        *,
        user: str = "morgan",
        elsewhere: bool = False,
        permissions: str | None = None,
    ) -> Json:
        """A member clicks a button on a message the bot posted."""
        payload = self._interaction("interaction_component", user)
        payload["message"] = message
        payload["channel_id"] = message["channel_id"]
        payload["data"]["custom_id"] = custom_id
        if message["channel_id"].startswith("19"):  # a DM: no guild, a user instead of a member
            for key in ("guild_id", "guild", "member", "channel"):
                payload.pop(key, None)
            payload["user"] = self.member(user)["user"]
            payload["context"] = 1
        payload = self._from(payload, elsewhere, permissions)
        self._interaction_messages[payload["token"]] = message
        await self.dispatch("INTERACTION_CREATE", payload)
        return payload

    async def submit(
        self,
        message: Json,
        custom_id: str,
        values: dict[str, str],
        *,
        user: str = "morgan",
        elsewhere: bool = False,
        permissions: str | None = None,
    ) -> Json:
        """Submit a modal opened from a button on ``message``."""
        payload = self._interaction("interaction_modal_submit", user)
        payload["message"] = message
        payload["channel_id"] = message["channel_id"]
        payload["data"] = {
            "custom_id": custom_id,
            "components": [
                {"type": 1, "components": [{"type": 4, "custom_id": k, "value": v}]}
                for k, v in values.items()
            ],
        }
        if message["channel_id"].startswith("19"):
            for key in ("guild_id", "guild", "member", "channel"):
                payload.pop(key, None)
            payload["user"] = self.member(user)["user"]
            payload["context"] = 1
        payload = self._from(payload, elsewhere, permissions)
        self._interaction_messages[payload["token"]] = message
        await self.dispatch("INTERACTION_CREATE", payload)
        return payload

    def responses(self, interaction: Json) -> list[Call]:
        """What the bot answered to an interaction: the callback and any webhook edits."""
        token = interaction["token"]
        return [
            c
            for c in self.requests
            if c.path.startswith(f"/interactions/{interaction['id']}/")
            or c.path.startswith(f"/webhooks/{self.application['id']}/{token}")
        ]

    async def answered(
        self, interaction: Json, *, count: int = 1, timeout: float = 10.0
    ) -> list[Call]:
        token = interaction["token"]
        path = rf"/interactions/{interaction['id']}/{token}/callback|/webhooks/\d+/{token}.*"
        await self.wait_for_any(path, count=count, timeout=timeout)
        return self.responses(interaction)

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
        for method, pattern, handler in _ROUTES:
            if method == call.method:
                match = pattern.fullmatch(call.path)
                if match:
                    return await handler(self, match, call)
        self.unhandled.append(call)
        return 404, {"message": f"fake Discord has no route for {call!r}", "code": 0}


async def _me(fake: FakeDiscord, match: re.Match[str], call: Call) -> tuple[int, Json]:
    return 200, fake.bot_user


async def _application(fake: FakeDiscord, match: re.Match[str], call: Call) -> tuple[int, Json]:
    return 200, fake.application


async def _gateway_bot(fake: FakeDiscord, match: re.Match[str], call: Call) -> tuple[int, Json]:
    payload = fixture("gateway_bot")
    payload["url"] = fake.gateway_url
    return 200, payload


async def _commands(fake: FakeDiscord, match: re.Match[str], call: Call) -> tuple[int, Json]:
    synced = []
    for command in call.body or []:
        synced.append(
            {
                "type": 1,
                "description": "",
                "options": [],
                "version": fake.snowflake(),
                **command,
                "id": fake.snowflake(),
                "application_id": fake.application["id"],
            }
        )
    return 200, synced


async def _send(fake: FakeDiscord, match: re.Match[str], call: Call) -> tuple[int, Json]:
    return 200, fake._message(match["channel"], call.body or {})


async def _get_message(fake: FakeDiscord, match: re.Match[str], call: Call) -> tuple[int, Json]:
    message = fake.messages.get(match["message"])
    if message is None or message["channel_id"] != match["channel"]:
        return 404, {"message": "Unknown Message", "code": 10008}
    # REST messages carry neither the gateway's member object nor the guild id
    return 200, {k: v for k, v in message.items() if k not in {"member", "guild_id"}}


async def _history(fake: FakeDiscord, match: re.Match[str], call: Call) -> tuple[int, Json]:
    """As Discord pages a channel: newest first, ``before`` a message id, ``limit`` at most."""
    before = int(call.query.get("before") or 1 << 64)
    limit = int(call.query.get("limit") or 50)
    found = sorted(
        (
            m
            for m in fake.messages.values()
            if m["channel_id"] == match["channel"] and int(m["id"]) < before
        ),
        key=lambda m: -int(m["id"]),
    )
    return 200, [
        {k: v for k, v in m.items() if k not in {"member", "guild_id"}} for m in found[:limit]
    ]


async def _edit(fake: FakeDiscord, match: re.Match[str], call: Call) -> tuple[int, Json]:
    message = fake.messages.get(match["message"]) or fake._message(match["channel"], {})
    message.update(
        {k: v for k, v in (call.body or {}).items() if k in {"content", "embeds", "components"}}
    )
    message["edited_timestamp"] = datetime.now(UTC).isoformat()
    return 200, message


async def _no_content(fake: FakeDiscord, match: re.Match[str], call: Call) -> tuple[int, Json]:
    return 204, None


async def _dm(fake: FakeDiscord, match: re.Match[str], call: Call) -> tuple[int, Json]:
    user_id = str(call.body["recipient_id"])
    recipient = next(
        (m["user"] for m in fake.guild["members"] if m["user"]["id"] == user_id),
        {"id": user_id, "username": "someone", "discriminator": "0", "avatar": None},
    )
    return 200, {
        "id": fake.dm_channel_id(user_id),
        "type": 1,
        "recipients": [recipient],
        "last_message_id": None,
        "flags": 0,
    }


def _guild_member(fake: FakeDiscord, user_id: str) -> Json | None:
    return next((m for m in fake.guild["members"] if m["user"]["id"] == user_id), None)


async def _get_member(fake: FakeDiscord, match: re.Match[str], call: Call) -> tuple[int, Json]:
    member = _guild_member(fake, match["user"])
    if member is None:
        return 404, {"message": "Unknown Member", "code": 10007}
    return 200, member


async def _edit_member(fake: FakeDiscord, match: re.Match[str], call: Call) -> tuple[int, Json]:
    member = _guild_member(fake, match["user"])
    if member is None:
        return 404, {"message": "Unknown Member", "code": 10007}
    member.update(call.body or {})
    return 200, member


async def _callback(fake: FakeDiscord, match: re.Match[str], call: Call) -> tuple[int, Json]:
    kind = call.body["type"]
    data = call.body.get("data") or {}
    interaction = {
        "id": match["interaction"],
        "type": kind,
        "response_message_loading": kind == 5,
        "response_message_ephemeral": bool((data.get("flags") or 0) & 64),
    }
    resource: Json = {"type": kind}
    if kind in {4, 7}:
        original = fake._interaction_messages.get(match["token"])
        if kind == 7 and original is not None:
            original.update(
                {k: v for k, v in data.items() if k in {"content", "embeds", "components"}}
            )
            message = original
        else:
            message = fake._message("1200000000000000011", data)
            fake._interaction_messages[match["token"]] = message
        interaction["response_message_id"] = message["id"]
        resource["message"] = message
    return 200, {"interaction": interaction, "resource": resource}


async def _original(fake: FakeDiscord, match: re.Match[str], call: Call) -> tuple[int, Json]:
    message = fake._interaction_messages.get(match["token"]) or fake._message(
        "1200000000000000011", {}
    )
    message.update(
        {k: v for k, v in (call.body or {}).items() if k in {"content", "embeds", "components"}}
    )
    return 200, message


async def _followup(fake: FakeDiscord, match: re.Match[str], call: Call) -> tuple[int, Json]:
    return 200, fake._message("1200000000000000011", call.body or {})


async def _automod_rules(fake: FakeDiscord, match: re.Match[str], call: Call) -> tuple[int, Json]:
    return 200, list(fake.automod_rules.values())


async def _automod_save(fake: FakeDiscord, match: re.Match[str], call: Call) -> tuple[int, Json]:
    rule_id = match["rule"] or fake.snowflake()
    rule = fake.automod_rules.get(rule_id) or {
        "id": rule_id, "guild_id": fake.guild_id, "creator_id": fake.bot_user["id"],
        "trigger_type": call.body.get("trigger_type", 1), "exempt_channels": [],
    }  # fmt: skip
    rule.update(call.body)
    rule["trigger_type"] = rule.get("trigger_type", 1)
    fake.automod_rules[rule_id] = rule
    return 200, rule


_ROUTES: list[tuple[str, re.Pattern[str], Handler]] = [
    (m, re.compile(p), h)
    for m, p, h in [
        *TOOLKIT_ROUTES,
        ("GET", r"/users/@me", _me),
        ("GET", r"/oauth2/applications/@me", _application),
        ("GET", r"/gateway/bot", _gateway_bot),
        ("PUT", r"/applications/\d+/commands", _commands),
        ("PUT", r"/applications/\d+/guilds/\d+/commands", _commands),
        ("POST", r"/channels/(?P<channel>\d+)/messages", _send),
        ("GET", r"/channels/(?P<channel>\d+)/messages", _history),
        ("GET", r"/channels/(?P<channel>\d+)/messages/(?P<message>\d+)", _get_message),
        ("PATCH", r"/channels/(?P<channel>\d+)/messages/(?P<message>\d+)", _edit),
        ("POST", r"/users/@me/channels", _dm),
        ("GET", r"/guilds/\d+/members/(?P<user>\d+)", _get_member),
        ("PATCH", r"/guilds/\d+/members/(?P<user>\d+)", _edit_member),
        ("DELETE", r"/guilds/\d+/members/\d+", _no_content),
        ("PUT", r"/guilds/\d+/bans/\d+", _no_content),
        ("DELETE", r"/guilds/\d+/bans/\d+", _no_content),
        ("DELETE", r"/users/@me/guilds/\d+", _no_content),
        ("GET", r"/guilds/\d+/auto-moderation/rules", _automod_rules),
        ("POST", r"/guilds/\d+/auto-moderation/rules(?P<rule>)", _automod_save),
        ("PATCH", r"/guilds/\d+/auto-moderation/rules/(?P<rule>\d+)", _automod_save),
        ("POST", r"/interactions/(?P<interaction>\d+)/(?P<token>[^/]+)/callback", _callback),
        ("PATCH", r"/webhooks/\d+/(?P<token>[^/]+)/messages/@original", _original),
        ("POST", r"/webhooks/\d+/(?P<token>[^/]+)", _followup),
    ]
]
