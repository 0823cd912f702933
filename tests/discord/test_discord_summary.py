"""``/mod summary <case id | message link>`` on Discord, as a chat log: members talk in
#general, the worker decides each message, a moderator asks for the gist and the test reads
the embed the fake Discord received (the real discord.py client, service, worker, Redis and
the extractive summariser on the committed encoder)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from bot.classifiers.onnx_encoder import OnnxEncoder
from bot.connection import Redis
from bot.insights.summary import ExtractiveSummariser
from bot.metrics import Metrics
from bot.policy import Policy
from bot.settings import Settings
from bot.streams import read_decision
from tests.discord.conftest import DiscordStack
from tests.discord.fake_discord import FakeDiscord

pytestmark = [pytest.mark.discord, pytest.mark.insights]


@pytest.fixture
async def summarising(
    fake: FakeDiscord,
    discord_errors: Any,
    redis: Redis,
    settings: Settings,
    default_policy: Policy,
    metrics: Metrics,
) -> AsyncIterator[DiscordStack]:
    stack = DiscordStack(
        fake=fake, redis=redis, settings=settings, policy=default_policy, metrics=metrics,
        summariser=ExtractiveSummariser(encoder=OnnxEncoder()),
    )  # fmt: skip
    await stack.start()
    try:
        yield stack
    finally:
        await stack.close()


async def _decided(stack: DiscordStack, said: Any) -> None:
    key = f"discord:{stack.fake.guild_id}:{said['channel_id']}:{said['id']}"
    for _ in range(500):
        if await read_decision(stack.redis, stack.streams, key) is not None:
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"{key} was never decided")


async def _chat(stack: DiscordStack) -> list[Any]:
    fake = stack.fake
    said = [
        await fake.say("is the 2.4 installer still broken on windows?", user="alice"),
        await fake.say(
            "it hangs at 90%. text me at +1 415 555 0199 or alice.k@example.com", user="alice"
        ),
        await fake.say("same here, log: https://paste.example.com/abc?key=hunter2", user="mallory"),
        await fake.say("free nitro here", user="mallory"),
    ]
    for message in said:
        await _decided(stack, message)
    return said


def _fields(embed: Any) -> dict[str, str]:
    return {field["name"]: field["value"] for field in embed["fields"]}


async def test_a_moderator_reads_the_gist_of_a_case(summarising: DiscordStack) -> None:
    fake = summarising.fake
    said = await _chat(summarising)
    alice, mallory = fake.user_id("alice"), fake.user_id("mallory")

    asked = await fake.slash("summary", target="1")
    deferred, answer = await fake.answered(asked, count=2)

    assert deferred.body["type"] == 5  # "thinking…" while history is read
    [read] = fake.calls("GET", rf"/channels/{said[3]['channel_id']}/messages")
    assert read.query["before"] == said[3]["id"]  # the case's message and those before it
    assert answer.body["flags"] == 64  # only the moderator sees it
    [embed] = answer.body["embeds"]
    assert embed["title"] == "Summary of case 1"
    assert embed["description"].splitlines() == [
        "> user1: is the 2.4 installer still broken on windows?",
        "> user1: it hangs at 90%. text me at [phone1] or [email1]",
        "> user2: same here, log: https://paste.example.com/abc?[query1]",
        "> user2: free nitro here [spam 1.00]",
    ]
    assert _fields(embed) == {
        "Who": f"user1 = <@{alice}>: wrote 2 message(s)\n"
        f"user2 = <@{mallory}>: wrote 2 message(s); flagged: spam in 1; shared 1 link(s)",
        "Rules": "spam (link:scam) 1.00 in 1",
        "Links": "`https://paste.example.com/abc?[query1]`",
        "Suggested": "act · spam → delete, warn, open_case: spam 1.00 reaches act in message 4 "
        "by user2",
    }
    assert embed["footer"]["text"] == f"4 message(s) · extractive · {OnnxEncoder().name}"
    shown = str(answer.body)
    for removed in ("415 555 0199", "alice.k@example.com", "hunter2"):
        assert removed not in shown


async def test_a_link_members_and_other_servers(summarising: DiscordStack) -> None:
    fake = summarising.fake
    said = await _chat(summarising)
    link = f"https://discord.com/channels/{fake.guild_id}/{said[2]['channel_id']}/{said[2]['id']}"

    _, answer = await fake.answered(await fake.slash("summary", target=link), count=2)
    [embed] = answer.body["embeds"]
    assert embed["title"] == "Summary of the thread"
    assert len(embed["description"].splitlines()) == 3  # the linked message and those before

    _, refused = await fake.answered(await fake.slash("summary", target=link, user="alice"),
                                     count=2)  # fmt: skip
    assert refused.body["content"] == (
        f"discord:{fake.user_id('alice')} may not summarise a thread: moderators only"
    )
    await fake.join_other_guild()
    there = await fake.slash("summary", target="1", user="morgan", elsewhere=True)
    _, hidden = await fake.answered(there, count=2)
    assert hidden.body["content"] == "no case '1'"  # a case of another server is not found


async def test_the_case_cards_summary_button_answers_the_moderator_alone(
    summarising: DiscordStack,
) -> None:
    fake = summarising.fake
    await _chat(summarising)
    [card] = await fake.wait_for("POST", rf"/channels/{fake.channel_id('mod-queue')}/messages")
    case_id = card.body["embeds"][0]["title"].split()[1]
    buttons = [c["custom_id"] for row in card.body["components"] for c in row["components"]]
    assert f"mt:summary:{case_id}" in buttons

    click = await fake.click(card.response, f"mt:summary:{case_id}")
    deferred, answer = await fake.answered(click, count=2)
    assert deferred.body["type"] == 5
    assert deferred.body["data"]["flags"] == 64  # "thinking…", only for the moderator
    assert answer.body["flags"] == 64
    [embed] = answer.body["embeds"]
    assert embed["title"] == f"Summary of case {case_id}"
    assert embed["description"].splitlines()[-1] == "> user2: free nitro here [spam 1.00]"

    # a member who finds the card cannot read another member's case through it
    refused = await fake.click(card.response, f"mt:summary:{case_id}", user="alice")
    _, said = await fake.answered(refused, count=2)
    assert said.body["content"] == f"no case '{case_id}'"
