"""The rules stage and decide, end to end through Redis, read as chat logs."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.verdict import Route
from tests.harness import ChatHarness


async def test_slur_in_leetspeak_is_removed_with_a_warning(chat: ChatHarness) -> None:
    verdict = await chat.say("shut up you f4gg0t", user="mallory")
    assert verdict.route is Route.ACT
    assert verdict.category == "hate"
    assert verdict.stage == "rules"
    assert verdict.evidence[0].matched == "f4gg0t"
    actions = await chat.actions()
    # hate's strike points reach the ladder's first step: the case opens with the timeout
    assert [a.type for a in actions] == ["delete", "warn", "open_case", "timeout"]
    assert all(a.user_id == "mallory" for a in actions)
    assert {a.case_id for a in actions} == {"1"}


@pytest.mark.parametrize(
    "text",
    [
        "Can someone give me assistance with the installer?",
        "We drove through Scunthorpe on the way",
        "I visited Niger last year",
        "that class passes all the tests",
    ],
)
async def test_innocent_words_containing_deny_terms_pass(chat: ChatHarness, text: str) -> None:
    verdict = await chat.say(text)
    assert verdict.route is Route.ALLOW
    assert await chat.actions() == []


async def test_flood_is_caught_on_the_seventh_message(chat: ChatHarness) -> None:
    routes = [
        (await chat.say(f"spam line {i}", user="flooder", after=timedelta(seconds=1))).route
        for i in range(7)
    ]
    assert routes == [Route.ALLOW] * 6 + [Route.ACT]


async def test_discord_invite_is_removed_but_allowed_domains_pass(chat: ChatHarness) -> None:
    assert (await chat.say("docs: https://docs.python.org/3/library/asyncio.html")).route is (
        Route.ALLOW
    )
    verdict = await chat.say("join my server discord.gg/abc123 for free stuff")
    assert verdict.route is Route.ACT
    assert verdict.evidence[0].rule == "link:invite"


async def test_moderators_are_exempt(chat: ChatHarness) -> None:
    verdict = await chat.say("discord.gg/official-partner", user="mod", roles=("moderator",))
    assert verdict.route is Route.ALLOW
