"""`modtriage run` with a Slack token: adapter and worker together, end to end."""

from __future__ import annotations

import asyncio
import json

import pytest
from prometheus_client import CollectorRegistry
from pydantic import SecretStr

from bot.classifiers.rules_only import RulesOnlyClassifier
from bot.connection import Redis
from bot.metrics import Metrics
from bot.policy import Policy
from bot.serve import serve
from bot.settings import Settings
from tests.slack.conftest import SECRET, free_port, payload, post_when_listening
from tests.slack.fake_slack import FakeSlack

pytestmark = pytest.mark.slack


async def test_a_slur_posted_in_slack_is_answered_by_the_served_pipeline(
    fake_slack: FakeSlack, redis: Redis, settings: Settings, default_policy: Policy
) -> None:
    port = free_port()
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
        assert await post_when_listening(port, body) == 200
        [notice] = await fake_slack.wait_for("chat.postEphemeral")
        assert "hate" in json.dumps(notice.args)
        cards = await fake_slack.wait_for("chat.postMessage")
        assert any(call.args.get("channel") == "CMODS" for call in cards)
    finally:
        stop.set()
        await asyncio.wait_for(running, 10)
