"""``/mod ask <message link>`` and ``/mod faq <question>`` on Discord: the frontier model's
opinion on a message members already posted, with its thread, against a fake Discord and a
local Messages API server."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from bot.connection import Redis
from bot.escalation import EscalateStage
from bot.metrics import Metrics
from bot.policy import Policy, load_policy
from bot.settings import Settings
from bot.streams import read_decision
from tests.conftest import DEFAULT_POLICY
from tests.discord.conftest import MODERATOR_ROLE, DiscordStack
from tests.discord.fake_discord import FakeDiscord
from tests.frontier_chat import escalating_stage
from tests.messages_api import MessagesApi, Reply

pytestmark = [pytest.mark.discord, pytest.mark.frontier]

StackFactory = Callable[..., Awaitable[DiscordStack]]


@pytest.fixture
async def asking(
    fake: FakeDiscord,
    discord_errors: Any,
    redis: Redis,
    settings: Settings,
    default_policy: Policy,
    metrics: Metrics,
    api: MessagesApi,
) -> AsyncIterator[StackFactory]:
    """A server whose policy escalates; ``/mod ask`` goes to the local Messages API."""
    made: list[tuple[DiscordStack, EscalateStage]] = []

    async def make(**overrides: Any) -> DiscordStack:
        policy, config, escalation = escalating_stage(
            redis, settings, default_policy, api, **overrides
        )
        stack = DiscordStack(
            fake=fake,
            redis=redis,
            settings=config,
            policy=policy,
            metrics=metrics,
            escalation=escalation,
        )
        await stack.start()
        made.append((stack, escalation))
        return stack

    yield make
    for stack, escalation in made:
        await stack.close()
        await escalation.aclose()


async def _decided(stack: DiscordStack, said: Any) -> None:
    key = f"discord:{stack.fake.guild_id}:{said['channel_id']}:{said['id']}"
    for _ in range(500):
        if await read_decision(stack.redis, stack.streams, key) is not None:
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"{key} was never decided")


def _link(fake: FakeDiscord, said: Any) -> str:
    return f"https://discord.com/channels/{fake.guild_id}/{said['channel_id']}/{said['id']}"


def _fields(embed: Any) -> dict[str, str]:
    return {field["name"]: field["value"] for field in embed["fields"]}


async def test_a_moderator_asks_the_frontier_model_about_a_message_with_its_thread(
    asking: StackFactory, api: MessagesApi
) -> None:
    stack = await asking()
    fake = stack.fake
    api.default = Reply("tool_use_act")  # harassment 0.97: the frontier model would act
    asked_first = await fake.say("is the installer fixed yet? mail me at alice@example.com",
                                 user="alice")  # fmt: skip
    sneer = await fake.say("wow, you're such a genius, really", user="mallory")
    await _decided(stack, asked_first)
    await _decided(stack, sneer)

    asked = await fake.slash("ask", message_link=_link(fake, sneer))
    deferred, answer = await fake.answered(asked, count=2)

    assert deferred.body["type"] == 5  # "thinking…" while the model answers
    # What left the machine: the thread before the message, pseudonymised and redacted.
    [sent] = api.received
    assert sent.user_text == (
        "<context>\n"
        "user1: is the installer fixed yet? mail me at [email1]\n"
        "</context>\n\n"
        '<message author="user2">\n'
        "wow, you're such a genius, really\n"
        "</message>"
    )
    # What the moderator saw, only them.
    assert answer.body["flags"] == 64
    [embed] = answer.body["embeds"]
    assert embed["title"] == "Frontier model: act · harassment"
    fields = _fields(embed)
    assert fields["Outcome"] == (
        "answered · claude-sonnet-4-6 · cost 0.0210 USD · sent with 1 earlier message(s), redacted"
    )
    assert (
        fields["Scores"] == "harassment 0.97, toxicity 0.91, violence 0.10, hate 0.03, sexual 0.00"
    )
    assert (
        fields["Rationale"] == "A targeted, degrading attack on user2 after they asked a question."
    )
    assert fields["Small model"] == "allow: no rule or category fired"
    assert fields["Case"] == "1 opened in the review queue"

    # The case waits for a moderator in the queue channel, with what was sent and who is who.
    card = (await fake.wait_for("POST", rf"/channels/{fake.channel_id('mod-queue')}/messages"))[0]
    [posted] = card.body["embeds"]
    on_card = _fields(posted)
    assert on_card["Note"] == "Opened after a moderator asked the frontier model"
    assert on_card["Frontier model"].startswith(
        "answered by claude-sonnet-4-6 · sent · cost 0.0210"
    )
    assert "[email1]" in on_card["Sent (redacted)"]
    assert on_card["Who is who"] == (
        f"user1 = <@{fake.user_id('alice')}>; user2 = <@{fake.user_id('mallory')}>; "
        "[email1] = alice@example.com"
    )
    assert on_card["Came back"].startswith("harassment 0.97, toxicity 0.91")
    assert fake.calls("DELETE", r".*") == []  # nothing enforced


async def test_a_link_to_nothing_is_answered_plainly(
    asking: StackFactory, api: MessagesApi
) -> None:
    stack = await asking()
    fake = stack.fake
    channel = fake.channel_id("general")
    for link, said in [
        ("https://example.com/not/a/discord/link", "is not a Discord message link"),
        (f"https://discord.com/channels/{fake.guild_id}/{channel}/1311999999999999999",
         "that message was not found"),
        (f"https://discord.com/channels/999/{channel}/1311999999999999999",
         "that message is in another server"),
    ]:  # fmt: skip
        asked = await fake.slash("ask", message_link=link)
        answer = (await fake.answered(asked, count=2))[-1]
        assert said in answer.body["content"]
    assert api.received == []


async def test_without_escalation_ask_says_so(stack: DiscordStack) -> None:
    fake = stack.fake
    said = await fake.say("wow, you're such a genius, really", user="mallory")
    await _decided(stack, said)

    asked = await fake.slash("ask", message_link=_link(fake, said))
    answer = (await fake.answered(asked, count=2))[-1]
    [embed] = answer.body["embeds"]
    assert embed["title"] == "Frontier model not asked"
    fields = _fields(embed)
    assert fields["Why not"] == (
        "escalation to the frontier model is off in the policy (escalation.enabled)"
    )
    assert fields["Small model"] == "allow: no rule or category fired"


@pytest.fixture
async def answering(
    fake: FakeDiscord,
    discord_errors: Any,
    redis: Redis,
    settings: Settings,
    metrics: Metrics,
) -> AsyncIterator[DiscordStack]:
    """A server on the policy as shipped: FAQ answers on, from bot/policies/faq.yaml."""
    policy = load_policy(DEFAULT_POLICY)
    mods = policy.moderators.model_copy(update={"roles": (MODERATOR_ROLE,)})
    running = DiscordStack(
        fake=fake,
        redis=redis,
        settings=settings,
        policy=policy.model_copy(update={"moderators": mods}),
        metrics=metrics,
    )
    await running.start()
    try:
        yield running
    finally:
        await running.close()


async def test_faq_previews_the_answer_a_member_asking_would_get(
    answering: DiscordStack,
) -> None:
    fake = answering.fake
    question = "the setup step fails on ubuntu, what do I need?"

    previewed = await fake.slash("faq", "test", question=question)
    [preview] = await fake.answered(previewed)
    content = preview.body["data"]["content"]
    assert content.startswith("It would be answered with FAQ entry `install` (match ")
    assert "> Install from PyPI into a virtual environment" in content

    said = await fake.say(question, user="alice")
    [reply] = await fake.wait_for("POST", rf"/channels/{said['channel_id']}/messages")
    assert reply.body["content"].startswith("Install from PyPI into a virtual environment")
    assert reply.body["message_reference"]["message_id"] == int(said["id"])

    off_topic = await fake.slash("faq", "test", question="how do I reset my password?")
    [handed_off] = await fake.answered(off_topic)
    assert handed_off.body["data"]["content"] == (
        "No approved FAQ answer fits: it would be left to a person."
    )
