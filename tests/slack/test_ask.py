"""``/mod ask <message link>`` in Slack: the frontier model's opinion on a message members
already posted, with its thread, against a fake Slack and a local Messages API server."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from bot.connection import Redis
from bot.metrics import Metrics
from bot.policy import Policy
from bot.review.service import ModerationService
from bot.settings import Settings
from bot.streams import Streams, read_decision
from tests.frontier_chat import escalating_stage
from tests.messages_api import MessagesApi, Reply
from tests.slack.conftest import MODS, SlackStack, eventually
from tests.slack.fake_slack import FakeSlack
from tests.slack.test_moderators import _mod

pytestmark = [pytest.mark.slack, pytest.mark.frontier]

LINK = "https://test.slack.com/archives/C0GENERAL/p{ts}"
StackFactory = Callable[..., Any]


@pytest.fixture
async def asking(
    fake_slack: FakeSlack,
    redis: Redis,
    settings: Settings,
    default_policy: Policy,
    metrics: Metrics,
    api: MessagesApi,
) -> AsyncIterator[StackFactory]:
    """A workspace whose policy escalates; ``/mod ask`` goes to the local Messages API."""
    made: list[tuple[SlackStack, Any]] = []

    async def make(**overrides: Any) -> SlackStack:
        policy, config, escalation = escalating_stage(
            redis, settings, default_policy, api, **overrides
        )
        moderation = ModerationService(
            redis=redis,
            streams=Streams(namespace=config.namespace),
            policy=policy,
            escalation=escalation,
        )
        stack = SlackStack(
            fake=fake_slack,
            redis=redis,
            settings=config,
            policy=policy,
            metrics=metrics,
            moderation=moderation,
        )
        await stack.start()
        made.append((stack, escalation))
        return stack

    yield make
    for stack, escalation in made:
        await stack.stop()
        await escalation.aclose()


async def _conversation(slack: SlackStack) -> str:
    """Alice asks Eve about the release, Eve answers, Mallory sneers; the link to the sneer."""
    said = [
        ("hey <@U0EVE> how is the release going?", "U0ALICE", "1764320000.000100"),
        (
            "it crashed twice, mail me at eve@example.com if you see it",
            "U0EVE",
            "1764320010.000100",
        ),
        ("wow, you're such a genius, really", "U0MALLORY", "1764320020.000100"),
    ]
    for text, user, ts in said:
        await slack.say(text, user=user, ts=ts)
    streams = slack.streams
    for _, _, ts in said:  # the worker saw each (and keeps them as thread context)
        await eventually(
            lambda ts=ts: read_decision(slack.redis, streams, f"slack:T0TEAM:C0GENERAL:{ts}")
        )
    return LINK.format(ts="1764320020000100")


async def test_a_moderator_asks_the_frontier_model_about_a_message_with_its_thread(
    asking: StackFactory, api: MessagesApi
) -> None:
    slack = await asking()
    api.default = Reply("tool_use_act")  # harassment 0.97: the frontier model would act
    link = await _conversation(slack)

    answer = await _mod(slack, f"ask {link}")

    # What left the machine: the thread before the message, pseudonymised and redacted.
    [sent] = api.received
    assert sent.user_text == (
        "<context>\n"
        "user1: hey @user2 how is the release going?\n"
        "user2: it crashed twice, mail me at [email1] if you see it\n"
        "</context>\n\n"
        '<message author="user3">\n'
        "wow, you're such a genius, really\n"
        "</message>"
    )
    # What the moderator read back in Slack.
    assert answer.splitlines() == [
        "*Frontier model* `claude-sonnet-4-6` · answered · cost 0.0210 USD · "
        "sent with 2 earlier message(s), redacted",
        "*act* · harassment",
        "harassment (frontier:harassment, score 0.97); toxicity (frontier:toxicity, score 0.91)",
        "Scores: harassment 0.97, toxicity 0.91, violence 0.10, hate 0.03, sexual 0.00",
        "> A targeted, degrading attack on user2 after they asked a question.",
        "The small model's verdict: *allow*",
        "no rule or category fired",
        "Case `1` opened in the review queue.",
    ]
    # Nothing was enforced: the case waits for a moderator, its card in the moderators' channel
    # shows what was sent and who is who.
    [card] = await slack.fake.wait_for("chat.postMessage")
    assert card.args["channel"] == MODS
    blocks = json.dumps(card.args["blocks"], ensure_ascii=False)
    assert "Opened after a moderator asked the frontier model" in blocks
    assert "*Frontier model:* answered by claude-sonnet-4-6 · sent · cost 0.0210 USD" in blocks
    # members are mentioned, so Slack shows the moderators their names
    assert (
        "Who is who: user1 = <@U0ALICE>; user2 = <@U0EVE>; user3 = <@U0MALLORY>; "
        "[email1] = eve@example.com"
    ) in blocks
    assert "Came back: harassment 0.97, toxicity 0.91" in blocks
    assert slack.fake.received("chat.delete") == []
    assert slack.fake.received("chat.postEphemeral") == []

    # Asking again costs nothing: the answer comes from the cache and joins the same case.
    again = await _mod(slack, f"ask {link}", hook="h2")
    assert len(api.received) == 1
    assert "· cached · cost 0.0000 USD" in again
    assert again.endswith("Recorded on case `1`.")
    shown = await _mod(slack, "case 1", hook="h3")
    assert "*Frontier model:* answered by claude-sonnet-4-6 · sent · cost 0.0210 USD" in shown
    assert "asked by slack:U0MOD" in shown


async def test_an_unsure_frontier_model_leaves_an_allowed_message_without_a_case(
    asking: StackFactory, api: MessagesApi
) -> None:
    slack = await asking()  # the default reply: banter, allowed
    link = await _conversation(slack)

    answer = await _mod(slack, f"ask {link}")

    assert len(api.received) == 1
    assert "*allow*" in answer.splitlines()[1]
    assert "Case" not in answer
    assert slack.fake.received("chat.postMessage") == []


async def test_without_an_api_key_ask_says_so_and_shows_the_small_model(
    asking: StackFactory, api: MessagesApi
) -> None:
    slack = await asking(api_key=None)
    link = await _conversation(slack)

    answer = await _mod(slack, f"ask {link}")

    assert api.received == []
    assert answer == (
        "The frontier model was not asked: no Anthropic API key is configured.\n"
        "The small model's verdict: *allow*\nno rule or category fired"
    )


async def test_a_spent_budget_is_said_plainly(asking: StackFactory, api: MessagesApi) -> None:
    slack = await asking(frontier_daily_budget=0.0)
    link = await _conversation(slack)

    answer = await _mod(slack, f"ask {link}")

    assert api.received == []
    assert "· budget exhausted · cost 0.0000 USD · nothing sent" in answer
    assert "It did not judge the message: " in answer
    assert "daily budget spent" in answer
    assert "The small model's verdict: *allow*" in answer
