"""The Slack stack against a local fake Slack: Bolt app served over HTTP on port 0 (signed
requests), the real worker and the action dispatcher running in the same loop."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import socket
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import aiohttp
import pytest
from aiohttp import web

from bot.adapters.dispatch import ActionDispatcher
from bot.adapters.slack.app import SlackBot, web_client
from bot.adapters.slack.directory import SlackDirectory
from bot.adapters.slack.outbound import SlackAdapter
from bot.classifiers.rules_only import RulesOnlyClassifier
from bot.connection import Redis
from bot.metrics import Metrics
from bot.pipeline.ingest import Ingest
from bot.policy import Policy
from bot.review.interface import Moderation
from bot.review.service import ModerationService
from bot.runtime import build_worker
from bot.settings import Settings
from bot.streams import Streams, decode_message
from tests.slack.fake_slack import FakeSlack

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "slack"
SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
MODS = "C0MODS"


async def eventually(check: Callable[[], Awaitable[Any]], within_s: float = 10.0) -> Any:
    """Wait until ``check()`` returns something truthy (the dispatcher runs in the background)."""
    deadline = asyncio.get_running_loop().time() + within_s
    while not (result := await check()):
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"still {result!r} after {within_s}s")
        await asyncio.sleep(0.02)
    return result


def payload(name: str, **replace: str) -> Any:
    """A recorded payload with placeholder strings (``CASE_ID``, ...) replaced."""
    raw = (FIXTURES / f"{name}.json").read_text()
    for key, value in replace.items():
        raw = raw.replace(key, json.dumps(value)[1:-1])
    return json.loads(raw)


def signed(body: bytes, *, secret: str = SECRET, ts: int | None = None) -> dict[str, str]:
    stamp = str(int(time.time()) if ts is None else ts)
    base = b"v0:" + stamp.encode() + b":" + body
    signature = "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": stamp, "X-Slack-Signature": signature}


class SlackStack:
    """What a Slack workspace talks to: modtriage's Bolt app, worker and dispatcher."""

    def __init__(
        self,
        *,
        fake: FakeSlack,
        redis: Redis,
        settings: Settings,
        policy: Policy,
        metrics: Metrics,
        moderation: Moderation,
        admin_token: str | None = None,
    ) -> None:
        self.fake = fake
        self.redis = redis
        self.streams = Streams(namespace=settings.namespace)
        client = web_client("xoxb-test-bot", base_url=fake.api_url, retries=2)
        self.adapter = SlackAdapter(
            client=client,
            admin_client=web_client(admin_token, base_url=fake.api_url) if admin_token else None,
            moderation=moderation,
            redis=redis,
            streams=self.streams,
            moderators_channel=MODS,
        )
        self.bot = SlackBot(
            client=client,
            signing_secret=SECRET,
            redis=redis,
            streams=self.streams,
            ingest=Ingest(redis=redis, streams=self.streams),
            moderation=moderation,
            adapter=self.adapter,
            directory=SlackDirectory(client=client),
        )
        self.worker = build_worker(
            redis=redis,
            settings=settings,
            policy=policy,
            classifier=RulesOnlyClassifier(),
            metrics=metrics,
            consumer="slack-test-worker",
        )
        self.dispatcher = ActionDispatcher(
            redis=redis,
            streams=self.streams,
            adapter=self.adapter,
            consumer="slack-test",
            block_ms=20,
            moderation=moderation,
        )
        self.url = ""
        self._stop = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._runner: web.AppRunner | None = None
        self._http: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        self._runner = web.AppRunner(self.bot.app.web_app(path="/slack/events"))
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}/slack/events"
        self._http = aiohttp.ClientSession()
        self._tasks = [
            asyncio.create_task(self.worker.run(self._stop)),
            asyncio.create_task(self.dispatcher.run(self._stop)),
        ]

    async def stop(self) -> None:
        self._stop.set()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.wait_for(task, 5)
        if self._http is not None:
            await self._http.close()
        if self._runner is not None:
            await self._runner.cleanup()

    async def post(
        self, body: bytes, content_type: str, headers: dict[str, str]
    ) -> tuple[int, str]:
        assert self._http is not None
        async with self._http.post(
            self.url, data=body, headers={"Content-Type": content_type, **headers}
        ) as response:
            return response.status, await response.text()

    async def event(self, body: dict[str, Any], **sign: Any) -> tuple[int, str]:
        raw = json.dumps(body).encode()
        return await self.post(raw, "application/json", signed(raw, **sign))

    async def command(self, fields: dict[str, str], **sign: Any) -> tuple[int, str]:
        raw = urlencode(fields).encode()
        return await self.post(raw, "application/x-www-form-urlencoded", signed(raw, **sign))

    async def interaction(self, body: dict[str, Any], **sign: Any) -> tuple[int, str]:
        raw = urlencode({"payload": json.dumps(body)}).encode()
        return await self.post(raw, "application/x-www-form-urlencoded", signed(raw, **sign))

    async def say(
        self, text: str, *, user: str = "U0MALLORY", ts: str = "1764320000.000100"
    ) -> None:
        """A member posts in #general; returns once Slack got the ack. Slack keeps it in the
        channel's history, where ``conversations.history`` finds it."""
        body = payload("event_message")
        body["event"].update(text=text, user=user, ts=ts, event_ts=ts, blocks=[])
        self.fake.history.setdefault("C0GENERAL", []).append(
            {"type": "message", "user": user, "text": text, "ts": ts, "team": "T0TEAM"}
        )
        status, _ = await self.event(body)
        assert status == 200

    async def ingested(self) -> list[Any]:
        entries = await self.redis.xrange(self.streams.ingest)
        return [decode_message(i.decode(), f) for i, f in entries]


@pytest.fixture
async def fake_slack() -> AsyncIterator[FakeSlack]:
    fake = FakeSlack(
        users={
            "U0MOD": {
                "id": "U0MOD",
                "name": "maria",
                "is_admin": False,
                "profile": {"display_name": "Maria"},
            },
            "U0ADMIN": {
                "id": "U0ADMIN",
                "name": "ada",
                "is_admin": True,
                "profile": {"display_name": "Ada"},
            },
            "U0ALICE": {"id": "U0ALICE", "name": "alice", "profile": {"display_name": "Alice"}},
            "U0MALLORY": {
                "id": "U0MALLORY",
                "name": "mallory",
                "profile": {"display_name": "Mallory"},
            },
        },
        usergroups=[{"id": "S0MODS", "handle": "moderator", "users": ["U0MOD"]}],
    )
    await fake.start()
    yield fake
    await fake.stop()


@pytest.fixture
def default_policy(default_policy: Policy) -> Policy:
    """The default policy, with this workspace's moderators: the ``@moderator`` user group
    (admins and owners by Slack's own flags)."""
    mods = default_policy.moderators.model_copy(update={"roles": ("usergroup:moderator",)})
    return default_policy.model_copy(update={"moderators": mods})


@pytest.fixture
def moderation(redis: Redis, settings: Settings, default_policy: Policy) -> ModerationService:
    """The real moderation service on the test's Redis namespace and the default policy."""
    return ModerationService(
        redis=redis,
        streams=Streams(namespace=settings.namespace),
        policy=default_policy,
        policy_path=settings.policy,
    )


@pytest.fixture
async def slack(
    fake_slack: FakeSlack,
    redis: Redis,
    settings: Settings,
    default_policy: Policy,
    metrics: Metrics,
    moderation: ModerationService,
) -> AsyncIterator[SlackStack]:
    """A workspace without an admin token: modtriage has only its bot token."""
    stack = SlackStack(
        fake=fake_slack,
        redis=redis,
        settings=settings,
        policy=default_policy,
        metrics=metrics,
        moderation=moderation,
    )
    await stack.start()
    yield stack
    await stack.stop()


@contextlib.asynccontextmanager
async def stack_on(
    policy: Policy, *, fake: FakeSlack, redis: Redis, settings: Settings, metrics: Metrics
) -> AsyncIterator[SlackStack]:
    """A workspace on ``policy`` (the service, the Bolt app, worker and dispatcher), started."""
    moderation = ModerationService(
        redis=redis, streams=Streams(namespace=settings.namespace), policy=policy
    )
    stack = SlackStack(
        fake=fake, redis=redis, settings=settings, policy=policy, metrics=metrics,
        moderation=moderation,
    )  # fmt: skip
    await stack.start()
    try:
        yield stack
    finally:
        await stack.stop()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def post_when_listening(port: int, body: bytes) -> int:
    """POST a signed event to a server that is still starting; the first answer's status."""
    async with aiohttp.ClientSession() as http:
        for _ in range(100):
            with contextlib.suppress(aiohttp.ClientConnectionError):
                async with http.post(
                    f"http://127.0.0.1:{port}/slack/events",
                    data=body,
                    headers={"Content-Type": "application/json", **signed(body)},
                ) as response:
                    return response.status
            await asyncio.sleep(0.05)
    raise AssertionError(f"nothing listened on port {port}")
