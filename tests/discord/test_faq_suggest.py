"""``/mod faq suggest`` and ``/mod faq accept`` on Discord, against the fake Discord: five
members ask a question the FAQ does not cover, a moderator accepts the suggestion with an
answer, and the next member who asks gets it in reply."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bot.connection import Redis
from bot.faq.entries import load_faqs
from bot.metrics import Metrics
from bot.policy import Policy, load_policy
from bot.settings import Settings
from bot.tenant import Tenant
from tests.conftest import DEFAULT_POLICY
from tests.discord.conftest import MODERATOR_ROLE, DiscordStack
from tests.discord.fake_discord import FakeDiscord
from tests.discord.fake_members import Arrivals

pytestmark = pytest.mark.discord

PORT_QUESTIONS = [
    "how do I change the default port of the dev server?",
    "can the development server listen on another port?",
    "dev server port 8000 is taken, where do I set a different one?",
    "is there a setting for which port the local server uses?",
    "how to run the dev server on port 9000 instead?",
]
ADMINISTRATOR = "2251799813685247"  # the permission bits of a server's administrator
ANSWER = "Pass --port to the dev server: ourproject serve --port 9000."


@pytest.fixture
async def stack(
    fake: FakeDiscord, discord_errors: Any, redis: Redis, settings: Settings, metrics: Metrics,
    tmp_path: Path,
) -> AsyncIterator[DiscordStack]:  # fmt: skip
    """A server on the shipped policy and FAQ (copied: accepting writes the FAQ file)."""
    shutil.copy(DEFAULT_POLICY, tmp_path / "default.yaml")
    shutil.copy(DEFAULT_POLICY.parent / "faq.yaml", tmp_path / "faq.yaml")
    policy: Policy = load_policy(tmp_path / "default.yaml")
    # by id for the service (who may run /mod), by name for the messages they post (Discord
    # messages carry role names): the reply of a moderator is a moderator's draft answer
    mods = policy.moderators.model_copy(update={"roles": (MODERATOR_ROLE, "moderator")})
    running = DiscordStack(
        fake=fake, redis=redis, settings=settings, metrics=metrics,
        policy=policy.model_copy(update={"moderators": mods}),
        policy_path=tmp_path / "default.yaml",
    )  # fmt: skip
    await running.start()
    try:
        yield running
    finally:
        await running.close()


async def _handed_off(stack: DiscordStack, count: int) -> None:
    """Wait until the worker kept ``count`` handed-off questions of the guild."""
    key = stack.streams.tenant(Tenant(platform="discord", workspace=stack.fake.guild_id))
    async with asyncio.timeout(20):
        while await stack.redis.xlen(key.faq_asked) < count:
            await asyncio.sleep(0.05)


async def _content(fake: FakeDiscord, interaction: Any) -> Any:
    [*_, said] = await fake.answered(interaction, count=2)
    return said.body


async def test_five_members_ask_a_moderator_accepts_and_the_next_member_is_answered(
    stack: DiscordStack,
) -> None:
    fake = stack.fake
    await Arrivals(fake).crowd(5, prefix="member")
    for n, question in enumerate(PORT_QUESTIONS, start=1):
        await fake.say(question, user=f"member{n}")
    await _handed_off(stack, 5)

    asked = await fake.slash("faq", "suggest")
    shown = await _content(fake, asked)
    [embed] = shown["embeds"]
    assert embed["title"].endswith("· asked 5× by 5 members")
    suggestion = embed["title"].split(" ")[0]
    assert {f["name"]: f["value"] for f in embed["fields"]}["Entry id"] == (
        "`change_default_port_dev`"
    )
    assert "components" not in shown or not shown["components"]  # no draft: no button

    accepted = await fake.slash("faq", "accept", suggestion=suggestion, answer=ANSWER)
    [added] = await fake.answered(accepted)
    assert added.body["data"]["content"].startswith(
        "Added `change_default_port_dev` to the FAQ with 5 questions"
    )
    assert stack.policy.faq.file is not None
    assert load_faqs(stack.policy.faq.file).entry("change_default_port_dev").answer == ANSWER

    said = await fake.say("how can I change the dev server's port?", user="alice")
    [reply] = await fake.wait_for("POST", rf"/channels/{said['channel_id']}/messages")
    assert reply.body["content"] == ANSWER
    assert reply.body["message_reference"]["message_id"] == int(said["id"])


async def test_another_servers_moderator_sees_no_suggestion_and_cannot_accept_one(
    stack: DiscordStack,
) -> None:
    fake = stack.fake
    await fake.join_other_guild()
    await Arrivals(fake).crowd(5, prefix="member")
    for n, question in enumerate(PORT_QUESTIONS, start=1):
        await fake.say(question, user=f"member{n}")
    await _handed_off(stack, 5)
    here = await fake.slash("faq", "suggest")
    suggestion = (await _content(fake, here))["embeds"][0]["title"].split(" ")[0]

    # alice administers the other server: she moderates there, and only there
    admin: dict[str, Any] = {"user": "alice", "elsewhere": True, "permissions": ADMINISTRATOR}
    there = await fake.slash("faq", "suggest", **admin)
    assert (await _content(fake, there))["content"].startswith("No suggestions")
    taken = await fake.slash("faq", "accept", suggestion=suggestion, answer="x", **admin)
    [refused] = await fake.answered(taken)
    assert refused.body["data"]["content"] == (
        f"no FAQ suggestion '{suggestion}' in this workspace; `faq suggest` lists them"
    )


async def test_mod_faq_is_a_group_test_suggest_accept_within_the_25_subcommands(
    stack: DiscordStack,
) -> None:
    [sync] = stack.fake.calls("PUT", rf"/applications/\d+/guilds/{stack.fake.guild_id}/commands")
    [mod] = [c for c in sync.body if c["name"] == "mod"]
    assert len(mod["options"]) <= 25
    [faq] = [o for o in mod["options"] if o["name"] == "faq"]
    assert faq["type"] == 2  # a subcommand group
    assert [o["name"] for o in faq["options"]] == ["test", "suggest", "accept"]


async def test_a_moderators_reply_in_the_questions_thread_is_added_with_one_click(
    stack: DiscordStack,
) -> None:
    fake = stack.fake
    await Arrivals(fake).crowd(5, prefix="member")
    said = [
        await fake.say(question, user=f"member{n}")
        for n, question in enumerate(PORT_QUESTIONS, start=1)
    ]
    await _handed_off(stack, 5)  # the gateway's events are handled concurrently: in order here
    # morgan opens a thread on the first question (its id is the message's) and answers there
    thread = {**fake.guild["threads"][0], "id": said[0]["id"], "name": "dev server port"}
    fake.guild["threads"].append(thread)
    await fake.dispatch("THREAD_CREATE", {**thread, "newly_created": True})
    await fake.say(ANSWER, user="morgan", channel="dev server port")
    await _handed_off(stack, 6)

    asked = await fake.slash("faq", "suggest")
    [*_, shown] = await fake.answered(asked, count=2)
    [embed] = shown.body["embeds"]
    fields = {f["name"]: f["value"] for f in embed["fields"]}
    assert fields["Draft answer (a moderator's reply)"] == ANSWER
    [[button]] = [row["components"] for row in shown.body["components"]]
    suggestion = embed["title"].split(" ")[0]
    assert button["custom_id"] == f"mt:faqs:accept:{suggestion}"

    click = await fake.click(shown.response, button["custom_id"])
    [added] = await fake.answered(click)
    assert added.body["data"]["content"].startswith("Added `change_default_port_dev` to the FAQ")
    assert stack.policy.faq.file is not None
    assert load_faqs(stack.policy.faq.file).entry("change_default_port_dev").answer == ANSWER
    again = await fake.click(shown.response, button["custom_id"])
    [refused] = await fake.answered(again)
    assert refused.body["data"]["content"].startswith(f"no FAQ suggestion '{suggestion}'")
