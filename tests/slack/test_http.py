"""HTTP mode: signed requests from Slack, the real worker and dispatcher, a fake Slack.

Reads like a chat log: a member posts, then we look at what Slack received from modtriage.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import pytest
import redis.asyncio as aioredis
from pydantic import SecretStr
from slack_bolt.request.async_request import AsyncBoltRequest

from bot.adapters.slack import build_slack, run_slack
from bot.adapters.slack.app import SlackBot, web_client
from bot.adapters.slack.outbound import SlackAdapter
from bot.connection import Redis
from bot.errors import ConfigError
from bot.metrics import Metrics
from bot.pipeline.ingest import Ingest
from bot.policy import Policy
from bot.review.service import ModerationService
from bot.settings import Settings
from bot.streams import Streams
from tests.slack.conftest import (
    MODS,
    SECRET,
    SlackStack,
    free_port,
    payload,
    post_when_listening,
    signed,
)
from tests.slack.fake_slack import FakeSlack

pytestmark = pytest.mark.slack


def _buttons(blocks: Any) -> list[str]:
    if isinstance(blocks, str):
        blocks = json.loads(blocks)
    return [e["action_id"] for b in blocks if b["type"] == "actions" for e in b["elements"]]


async def test_a_slur_gets_a_private_notice_and_a_review_card(slack: SlackStack) -> None:
    await slack.say("shut up you f4gg0t", user="U0MALLORY")
    # acknowledged only once the message is safely in the ingest stream
    [message] = await slack.ingested()
    assert (message.author.id, message.text) == ("U0MALLORY", "shut up you f4gg0t")

    [notice] = await slack.fake.wait_for("chat.postEphemeral")
    assert (notice.args["channel"], notice.args["user"]) == ("C0GENERAL", "U0MALLORY")
    assert "rule 'hate'" in notice.args["text"]
    assert _buttons(notice.args["blocks"]) == ["mt_appeal"]
    assert notice.token == "xoxb-test-bot"

    posts = await slack.fake.wait_for("chat.postMessage", count=2)
    flagged, card = posts
    assert flagged.args["channel"] == MODS
    assert "no admin token" in flagged.args["text"]
    assert card.args["channel"] == MODS
    assert "f4gg0t" in json.dumps(card.args["blocks"])
    assert "*actioned*" in json.dumps(card.args["blocks"])
    assert _buttons(card.args["blocks"]) == [
        "mt_card_overturn", "mt_card_timeout", "mt_card_ban", "mt_summary",
    ]  # fmt: skip
    # the member's message is flagged, not deleted: a bot token cannot delete it
    [reaction] = slack.fake.received("reactions.add")
    assert (reaction.args["channel"], reaction.args["timestamp"]) == (
        "C0GENERAL",
        "1764320000.000100",
    )
    assert slack.fake.received("chat.delete") == []


async def test_with_an_admin_token_the_message_is_deleted(
    fake_slack: FakeSlack,
    redis: Redis,
    settings: Settings,
    default_policy: Policy,
    metrics: Metrics,
    moderation: ModerationService,
) -> None:
    stack = SlackStack(
        fake=fake_slack,
        redis=redis,
        settings=settings,
        policy=default_policy,
        metrics=metrics,
        moderation=moderation,
        admin_token="xoxp-admin",
    )
    await stack.start()
    try:
        await stack.say("you f4gg0t")
        [deleted] = await fake_slack.wait_for("chat.delete")
        assert deleted.token == "xoxp-admin"
        assert (deleted.args["channel"], deleted.args["ts"]) == ("C0GENERAL", "1764320000.000100")
        await fake_slack.wait_for("chat.postMessage")  # the review card
        assert fake_slack.received("reactions.add") == []
    finally:
        await stack.stop()


async def test_an_edit_into_a_slur_is_moderated_again(slack: SlackStack) -> None:
    status, _ = await slack.event(payload("event_message_changed"))
    assert status == 200
    [message] = await slack.ingested()
    assert message.edited
    assert message.text == "edited: you f4gg0t"
    [notice] = await slack.fake.wait_for("chat.postEphemeral")
    assert notice.args["user"] == "U0MALLORY"


@pytest.mark.parametrize(
    "name", ["event_bot_message", "event_channel_join", "event_im", "event_unfurl_changed"]
)
async def test_nothing_to_moderate_is_acked_and_dropped(slack: SlackStack, name: str) -> None:
    status, _ = await slack.event(payload(name))
    assert status == 200
    assert await slack.ingested() == []


async def test_a_malformed_event_is_kept_with_its_reason(slack: SlackStack) -> None:
    status, _ = await slack.event(payload("event_malformed"))
    assert status == 200
    [(_, fields)] = await slack.redis.xrange(slack.streams.dead)
    assert fields[b"reason"] == b"slack event: message event has no 'ts'"
    assert json.loads(fields[b"event"])["event_id"] == "Ev0BAD1"


async def test_a_dead_lettered_event_keeps_no_verification_token(slack: SlackStack) -> None:
    sent = payload("event_malformed")
    assert sent["token"] == "XXYYZZ"  # Slack's legacy verification token, sent with every event
    await slack.event(sent)
    [(_, fields)] = await slack.redis.xrange(slack.streams.dead)
    kept = json.loads(fields[b"event"])
    assert "token" not in kept
    assert b"XXYYZZ" not in fields[b"event"]
    assert kept["event"]["text"] == "a message without a ts"


async def test_url_verification_is_answered(slack: SlackStack) -> None:
    status, text = await slack.event(
        {
            "token": "x",
            "challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P",
            "type": "url_verification",
        }
    )
    assert status == 200
    assert "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P" in text


@pytest.mark.parametrize(
    "forge",
    ["unsigned", "stale", "wrong_secret", "altered_body"],
)
async def test_forged_requests_are_rejected_and_reach_nothing(
    slack: SlackStack, forge: str
) -> None:
    body = json.dumps(payload("event_message")).encode()
    headers = signed(body)
    if forge == "unsigned":
        headers = {}
    elif forge == "stale":
        headers = signed(body, ts=int(time.time()) - 301)
    elif forge == "wrong_secret":
        headers = signed(body, secret="not-the-secret")
    elif forge == "altered_body":
        body = body.replace(b"shut up", b"hello")
    status, _ = await slack.post(body, "application/json", headers)
    assert status == 401
    assert await slack.ingested() == []
    assert slack.fake.calls == []


async def test_run_slack_serves_http_mode_from_settings(
    fake_slack: FakeSlack, redis: Redis, settings: Settings, moderation: ModerationService
) -> None:
    port = free_port()
    slack_settings = settings.model_copy(
        update={
            "slack_bot_token": SecretStr("xoxb-test-bot"),
            "slack_signing_secret": SecretStr(SECRET),
            "slack_api_url": fake_slack.api_url,
            "slack_host": "127.0.0.1",
            "slack_port": port,
        }
    )
    stop = asyncio.Event()
    running = asyncio.create_task(run_slack(slack_settings, redis, moderation, stop))
    body = json.dumps(payload("event_message")).encode()
    try:
        assert await post_when_listening(port, body) == 200
        [(_, fields)] = await redis.xrange(Streams(namespace=settings.namespace).ingest)
        assert b"f4gg0t" in fields[b"message"]
    finally:
        stop.set()
        await asyncio.wait_for(running, 10)


@pytest.mark.parametrize(
    ("tokens", "problem"),
    [
        ({}, "MODTRIAGE_SLACK_BOT_TOKEN"),
        ({"slack_bot_token": SecretStr("xoxb-1")}, "MODTRIAGE_SLACK_SIGNING_SECRET"),
        # an empty secret would verify requests signed with the empty key: anyone's
        (
            {"slack_bot_token": SecretStr("xoxb-1"), "slack_signing_secret": SecretStr("")},
            "MODTRIAGE_SLACK_SIGNING_SECRET is empty",
        ),
        (
            {"slack_bot_token": SecretStr("xoxb-1"), "slack_signing_secret": SecretStr("  ")},
            "MODTRIAGE_SLACK_SIGNING_SECRET is empty",
        ),
    ],
)
def test_missing_slack_settings_stop_start_up(
    redis: Redis,
    settings: Settings,
    moderation: ModerationService,
    tokens: dict[str, Any],
    problem: str,
) -> None:
    with pytest.raises(ConfigError, match=problem):
        build_slack(settings.model_copy(update=tokens), redis, moderation)


async def test_when_redis_is_down_slack_gets_a_500_and_will_resend(
    fake_slack: FakeSlack, settings: Settings, default_policy: Policy, tmp_path: Any
) -> None:
    # no client-side retries here: with them the 500 only comes later (Slack resends after 3 s)
    down = aioredis.Redis.from_url(f"unix://{tmp_path}/no-redis-here.sock")
    streams = Streams(namespace=settings.namespace)
    moderation = ModerationService(redis=down, streams=streams, policy=default_policy)
    client = web_client("xoxb-test-bot", base_url=fake_slack.api_url)
    adapter = SlackAdapter(
        client=client, moderation=moderation, redis=down, streams=streams, moderators_channel=MODS
    )
    bot = SlackBot(
        client=client,
        signing_secret=SECRET,
        redis=down,
        streams=streams,
        ingest=Ingest(redis=down, streams=streams),
        moderation=moderation,
        adapter=adapter,
    )
    raw = json.dumps(payload("event_message")).encode()
    response = await bot.app.async_dispatch(
        AsyncBoltRequest(
            body=raw.decode(), headers={"content-type": "application/json", **signed(raw)}
        )
    )
    # not acknowledged: Slack retries the event (up to three times), so the message is not lost
    assert response.status == 500
    await down.aclose()
