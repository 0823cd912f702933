"""`modtriage run` with a Slack token: adapter and worker together, end to end."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket

import aiohttp
import pytest
from prometheus_client import CollectorRegistry
from pydantic import SecretStr

from bot.classifiers.rules_only import RulesOnlyClassifier
from bot.connection import Redis
from bot.metrics import Metrics
from bot.policy import Policy
from bot.serve import serve
from bot.settings import Settings
from tests.slack.conftest import SECRET, payload, signed
from tests.slack.fake_slack import FakeSlack

pytestmark = pytest.mark.slack


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def test_a_slur_posted_in_slack_is_answered_by_the_served_pipeline(
    fake_slack: FakeSlack, redis: Redis, settings: Settings, default_policy: Policy
) -> None:
    port = _free_port()
    served = settings.model_copy(
        update={
            "slack_bot_token": SecretStr("xoxb-test-bot"),
            "slack_signing_secret": SecretStr(SECRET),
            "slack_api_url": fake_slack.api_url,
            "slack_host": "127.0.0.1",
            "slack_port": port,
            "slack_moderators_channel": "CMODS",
        }
    )
    stop = asyncio.Event()
    running = asyncio.create_task(
        serve(
            settings=served,
            policy=default_policy,
            classifier=RulesOnlyClassifier(),
            redis=redis,
            metrics=Metrics(registry=CollectorRegistry()),
            stop=stop,
        )
    )
    body = json.dumps(payload("event_message")).encode()
    try:
        async with aiohttp.ClientSession() as http:
            for _ in range(100):  # until the server listens
                with contextlib.suppress(aiohttp.ClientConnectionError):
                    async with http.post(
                        f"http://127.0.0.1:{port}/slack/events",
                        data=body,
                        headers={"Content-Type": "application/json", **signed(body)},
                    ) as response:
                        assert response.status == 200
                        break
                await asyncio.sleep(0.05)
        [notice] = await fake_slack.wait_for("chat.postEphemeral")
        assert "hate" in json.dumps(notice.args)
        cards = await fake_slack.wait_for("chat.postMessage")
        assert any(call.args.get("channel") == "CMODS" for call in cards)
    finally:
        stop.set()
        await asyncio.wait_for(running, 10)
