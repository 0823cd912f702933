"""``/mod summary <case id | message link>`` in Slack, as a chat log: members talk in
#general, the worker decides each message, a moderator asks for the gist and the test reads
what Slack received back (the real Bolt app against the fake Slack, the real service and
extractive summariser on the committed encoder, a real Redis)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from bot.classifiers.onnx_encoder import OnnxEncoder
from bot.connection import Redis
from bot.insights.summary import ExtractiveSummariser
from bot.policy import Policy
from bot.review.service import ModerationService
from bot.settings import Settings
from bot.streams import Streams, read_decision
from tests.slack.conftest import SlackStack, eventually, payload
from tests.slack.test_moderators import _mod

pytestmark = [pytest.mark.slack, pytest.mark.insights]

LINK = "https://test.slack.com/archives/C0GENERAL/p{ts}"
#: (text, user, ts): a release question, contact details, a log link, a scam (case 1).
CHAT = [
    ("hey <@U0EVE> is the 2.4 release still broken on macOS?", "U0ALICE", "1764320000.000100"),
    (
        "yes, it crashes at start; call me on +44 20 7946 0958 or mail eve@example.com",
        "U0EVE",
        "1764320010.000100",
    ),
    ("crash log: https://logs.example.com/run/77?sig=s3cr3t", "U0EVE", "1764320020.000100"),
    ("free nitro here", "U0MALLORY", "1764320030.000100"),
    ("the 2.3 release works fine on macOS for me", "U0ALICE", "1764320040.000100"),
]


@pytest.fixture
def moderation(redis: Redis, settings: Settings, default_policy: Policy) -> ModerationService:
    """The service with the embedded model's summariser (the committed encoder)."""
    return ModerationService(
        redis=redis,
        streams=Streams(namespace=settings.namespace),
        policy=default_policy,
        summariser=ExtractiveSummariser(encoder=OnnxEncoder()),
    )


async def _chat(slack: SlackStack) -> None:
    for text, user, ts in CHAT:
        await slack.say(text, user=user, ts=ts)
    for _, _, ts in CHAT:
        key = f"slack:T0TEAM:C0GENERAL:{ts}"
        await eventually(lambda key=key: read_decision(slack.redis, slack.streams, key))


async def test_a_moderator_reads_the_gist_of_a_case_with_the_channel_before_it(
    slack: SlackStack, moderation: ModerationService
) -> None:
    await _chat(slack)

    answer = await _mod(slack, "summary 1")

    [looked] = slack.fake.received("conversations.history")
    assert looked.args["channel"] == "C0GENERAL"
    assert looked.args["latest"] == "1764320030.000100"  # the case's message and before it
    model = OnnxEncoder().name
    assert answer.splitlines() == [
        f"*Summary of case `1`* · 4 message(s) · extractive ({model})",
        "> user1: hey @user2 is the 2.4 release still broken on macOS?",
        "> user2: yes, it crashes at start; call me on [phone1] or mail [email1]",
        "> user2: crash log: https://logs.example.com/run/77?[query1]",
        "> user3: free nitro here [spam 1.00]",
        "*Who:* user2 = <@U0EVE>: wrote 2 message(s); shared 1 link(s); "
        "user1 = <@U0ALICE>: wrote 1 message(s); "
        "user3 = <@U0MALLORY>: wrote 1 message(s); flagged: spam in 1",
        "*Rules:* spam (link:scam) 1.00 in 1",
        "*Links:* https://logs.example.com/run/77?[query1]",
        "*Suggested:* act · spam → delete, warn, open_case: "
        "spam 1.00 reaches act in message 4 by user3",
    ]


async def test_a_message_link_redaction_and_rights(slack: SlackStack) -> None:
    await _chat(slack)
    link = LINK.format(ts="1764320040000100")

    answer = await _mod(slack, f"summary {link}")
    refused = await _mod(slack, f"summary {link}", user="U0ALICE", hook="h2")

    lines = answer.splitlines()
    assert lines[0].startswith("*Summary of the thread* · 5 message(s) · extractive")
    assert lines[5] == "> user1: the 2.3 release works fine on macOS for me"  # the linked one
    for removed in ("eve@example.com", "7946 0958", "s3cr3t"):
        assert removed not in answer
    assert refused == "slack:U0ALICE may not summarise a thread: moderators only"


async def test_the_case_cards_summary_button_answers_the_moderator_alone(
    slack: SlackStack, moderation: ModerationService
) -> None:
    await _chat(slack)

    async def card_posted() -> list[Any]:
        posted = slack.fake.received("chat.postMessage")
        return [c for c in posted if "mt_summary" in json.dumps(c.args.get("blocks"))]

    [card] = await eventually(card_posted)
    blocks = card.args["blocks"]
    blocks = json.loads(blocks) if isinstance(blocks, str) else blocks
    buttons = [e for b in blocks if b["type"] == "actions" for e in b["elements"]]
    [summary_button] = [e for e in buttons if e["action_id"] == "mt_summary"]
    assert summary_button["value"] == "1"

    press = payload(
        "block_actions_card",
        CASE_ID="1",
        CARD_TS="1764300000.000001",
        RESPONSE_URL=slack.fake.response_url("summary"),
    )
    press["actions"][0]["action_id"] = "mt_summary"
    before = len(slack.fake.responses)
    status, _ = await slack.interaction(press)
    assert status == 200
    answer = (await slack.fake.wait_responses(before + 1))[before]
    assert answer["hook"] == "summary"
    assert answer["response_type"] == "ephemeral"
    assert answer["replace_original"] is False  # the card stays as it is
    assert answer["text"].splitlines()[0].startswith("*Summary of case `1`* · 4 message(s)")
    assert "+44 20 7946 0958" not in answer["text"]
