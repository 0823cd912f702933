"""Socket Mode through ``run_slack``: a local websocket server replays Slack's envelopes."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from pydantic import SecretStr

from bot.adapters.slack import run_slack
from bot.classifiers.rules_only import RulesOnlyClassifier
from bot.connection import Redis
from bot.metrics import Metrics
from bot.policy import Policy
from bot.review.service import ModerationService
from bot.runtime import build_worker
from bot.settings import Settings
from tests.slack.conftest import MODS, eventually, payload
from tests.slack.fake_slack import FakeSlack

pytestmark = pytest.mark.slack


@pytest.fixture
async def socket_mode(
    fake_slack: FakeSlack,
    redis: Redis,
    settings: Settings,
    default_policy: Policy,
    metrics: Metrics,
    moderation: ModerationService,
    tmp_path: Path,
) -> AsyncIterator[Settings]:
    slack_settings = settings.model_copy(
        update={
            "slack_bot_token": SecretStr("xoxb-test-bot"),
            "slack_app_token": SecretStr("xapp-1-test"),
            "slack_api_url": fake_slack.api_url,
            "slack_moderators_channel": MODS,
        }
    )
    worker = build_worker(
        redis=redis,
        settings=settings,
        policy=default_policy,
        classifier=RulesOnlyClassifier(),
        metrics=metrics,
        consumer="socket-test-worker",
    )
    stop = asyncio.Event()
    tasks = [
        asyncio.create_task(run_slack(slack_settings, redis, moderation, stop)),
        asyncio.create_task(worker.run(stop)),
    ]
    await fake_slack.wait_socket()
    yield slack_settings
    stop.set()
    for task in tasks:
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait_for(task, 10)


async def test_an_event_envelope_is_acked_and_moderated(
    fake_slack: FakeSlack, socket_mode: Settings
) -> None:
    [connect] = fake_slack.received("apps.connections.open")
    assert connect.token == "xapp-1-test"
    ack = await fake_slack.send_envelope(
        {
            "envelope_id": "env-1",
            "type": "events_api",
            "accepts_response_payload": False,
            "retry_attempt": 0,
            "retry_reason": "",
            "payload": payload("event_message"),
        }
    )
    assert ack == {"envelope_id": "env-1"}
    [notice] = await fake_slack.wait_for("chat.postEphemeral")
    assert notice.args["user"] == "U0MALLORY"
    assert notice.token == "xoxb-test-bot"
    posts = await fake_slack.wait_for("chat.postMessage", 2)
    assert [p.args["channel"] for p in posts] == [MODS, MODS]


async def test_a_slash_command_envelope_is_answered_by_response_url(
    fake_slack: FakeSlack, socket_mode: Settings
) -> None:
    fields = payload("slash_mod", RESPONSE_URL=fake_slack.response_url("sock"))
    fields["text"] = "test you f4gg0t"
    ack = await fake_slack.send_envelope(
        {
            "envelope_id": "env-2",
            "type": "slash_commands",
            "accepts_response_payload": True,
            "payload": fields,
        }
    )
    assert ack["envelope_id"] == "env-2"
    [answer] = await fake_slack.wait_responses(1)
    assert answer["text"].startswith("Under the current policy: *act* · hate")


async def test_a_disconnect_request_reconnects(
    fake_slack: FakeSlack, socket_mode: Settings
) -> None:
    assert fake_slack.socket_connects == 1
    await fake_slack.send_raw(json.dumps({"type": "disconnect", "reason": "refresh_requested"}))
    await eventually(lambda: _connects(fake_slack, 2), within_s=15)
    ack = await fake_slack.send_envelope(
        {
            "envelope_id": "env-3",
            "type": "events_api",
            "accepts_response_payload": False,
            "payload": payload("event_message"),
        }
    )
    assert ack == {"envelope_id": "env-3"}


async def _connects(fake: FakeSlack, count: int) -> bool:
    return fake.socket_connects >= count and fake.connected
