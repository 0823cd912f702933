"""A case the frontier model had a part in shows it to the moderators: what was sent (redacted),
who the placeholders are, what came back and what it cost. Read as a chat log, through the
worker, the action dispatcher and the moderation service, as ``modtriage case show`` prints it.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot.review.case_text import render_case
from bot.verdict import Route
from tests.frontier_chat import ChatFactory
from tests.messages_api import MessagesApi, Reply
from tests.review_harness import Clock, ReviewHarness, moderator

pytestmark = [pytest.mark.frontier, pytest.mark.review]


async def test_the_case_shows_what_was_sent_who_is_who_and_what_came_back(
    escalating: ChatFactory, api: MessagesApi
) -> None:
    chat = escalating()
    review = ReviewHarness(chat=chat, clock=Clock(datetime(2026, 11, 27, 13, 0, tzinfo=UTC)))
    api.default = Reply("tool_use_act")
    await chat.say("hey <@bob> my mail is alice.w@example.com, any news?", user="alice")
    verdict = await chat.say("you absolute clown, read the docs", user="bob")
    await review.settle()

    assert verdict.route is Route.ACT
    [case] = await review.service.history(moderator(), "bob")
    [sent] = api.received
    assert case.escalation is not None
    assert case.escalation.text == sent.user_text
    shown = render_case(case).splitlines()
    start = shown.index("frontier model: answered by claude-sonnet-4-6 · sent · cost 0.0210 USD")
    assert shown[start + 1 : start + 10] == [
        "  sent (redacted):",
        "    <context>",
        "    user1: hey @user2 my mail is [email1], any news?",
        "    </context>",
        "    ",
        '    <message author="user2">',
        "    you absolute clown, read the docs",
        "    </message>",
        "  who is who: user1 = alice (alice); user2 = bob (bob); [email1] = alice.w@example.com",
    ]
    assert shown[start + 10] == (
        "  came back: harassment 0.97, toxicity 0.91, violence 0.10, hate 0.03: "
        "A targeted, degrading attack on user2 after they asked a question."
    )


async def test_a_case_the_frontier_model_could_not_judge_says_why(
    escalating: ChatFactory, api: MessagesApi
) -> None:
    chat = escalating(frontier_daily_budget=0.0)
    review = ReviewHarness(chat=chat, clock=Clock(datetime(2026, 11, 27, 13, 0, tzinfo=UTC)))
    verdict = await chat.say("you absolute clown, read the docs", user="bob")
    await review.settle()

    assert verdict.route is Route.REVIEW
    assert api.received == []
    [case] = await review.service.queue(moderator())
    shown = render_case(case)
    assert (
        "frontier model: budget exhausted by claude-sonnet-4-6 · nothing sent · cost 0.0000 USD"
        in shown
    )
    assert "  came back: nothing: " in shown
    assert "daily budget spent" in shown
