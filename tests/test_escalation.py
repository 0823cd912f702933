"""Escalation to the frontier model, read as chat logs, against a local Messages API server.

The real ``anthropic`` SDK talks HTTP to tests/messages_api.py; the assertions are on what
that server received (redacted text, capped context, the tool schema) and on the verdicts.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from anthropic import transform_schema

from bot.connection import Redis
from bot.escalation import (
    TOOL_NAME,
    UNAVAILABLE_RULE,
    AnswerSchema,
    Outcome,
    SpendingBudget,
)
from bot.metrics import Metrics
from bot.policy import Policy
from bot.stats import Counter, StatsBook
from bot.tenant import Tenant
from bot.verdict import Route
from tests.frontier_chat import HARD, UNSURE, ChatFactory, record_of
from tests.harness import ChatHarness
from tests.messages_api import MessagesApi, Reply, payload

pytestmark = pytest.mark.frontier


def budget_of(chat: ChatHarness, redis: Redis) -> SpendingBudget:
    settings = chat.settings
    return SpendingBudget(
        redis=redis,
        streams=chat.streams,
        model=settings.frontier_model,
        daily=settings.frontier_daily_budget,
        monthly=settings.frontier_monthly_budget,
    )


async def test_hard_message_goes_out_redacted_with_its_thread(
    escalating: ChatFactory, api: MessagesApi, redis: Redis, default_policy: Policy
) -> None:
    chat = escalating()
    await chat.say("hey <@bob> my mail is alice.w@example.com, text me on +44 20 7946 0958",
                   user="alice")  # fmt: skip
    await chat.say("@alice you still owe me for the pizza, card 4111 1111 1111 1111 lol",
                   user="bob")  # fmt: skip
    await chat.say("unrelated chatter elsewhere", user="carol", channel="C2")
    verdict = await chat.say(HARD, user="bob")

    assert len(api.received) == 1
    sent = api.received[0]
    assert sent.path == "/v1/messages"
    # The key travels as x-api-key (older SDKs) or as a bearer token (newer ones).
    auth = sent.headers.get("x-api-key") or sent.headers["authorization"].removeprefix("Bearer ")
    assert auth == "sk-test"
    assert sent.body["model"] == "claude-sonnet-4-6"
    assert sent.body["tool_choice"] == {"type": "tool", "name": TOOL_NAME}
    [tool] = sent.body["tools"]
    assert tool["name"] == TOOL_NAME
    assert tool["strict"] is True
    assert tool["input_schema"] == transform_schema(AnswerSchema(policy=default_policy).model)
    assert set(tool["input_schema"]["$defs"]["CategoryScores"]["required"]) == set(
        default_policy.categories
    )
    # The policy travels in plain language.
    assert "Attacks, dehumanisation or slurs" in sent.system_text
    # What left the machine: the channel's thread, pseudonymised, without personal data.
    assert sent.user_text == (
        "<context>\n"
        "user1: hey @user2 my mail is [email1], text me on [phone1]\n"
        "user2: @user1 you still owe me for the pizza, card [card1] lol\n"
        "</context>\n\n"
        '<message author="user2">\n'
        "you're such a genius, really\n"
        "</message>"
    )
    for secret in ("alice", "bob", "example.com", "7946", "4111", "carol", "unrelated"):
        assert secret not in sent.user_text.lower()

    # The frontier model calls it banter: allowed, decided by the escalate stage.
    assert verdict.route is Route.ALLOW
    assert verdict.stage == "escalate"
    assert verdict.classification is not None
    assert verdict.classification.model == "frontier:claude-sonnet-4-6"

    # The case keeps exactly what was sent and what came back, and maps pseudonyms back.
    record = await record_of(chat, redis, "console:T1:C1:m4")
    assert record.outcome is Outcome.ANSWERED
    assert record.sent is True
    assert record.user == sent.user_text
    assert record.system == sent.system_text
    assert record.answer == payload("tool_use_allow")["content"][0]["input"]
    assert record.pseudonyms["user1"] == "alice (alice)"
    assert record.pseudonyms["[email1]"] == "alice.w@example.com"
    assert record.first_opinion.scores == UNSURE
    assert record.usage.input_tokens == 1843
    assert record.cost == pytest.approx((1843 * 3.0 + 96 * 15.0) / 1e6)


async def test_context_is_the_newest_messages_of_the_channel_capped_by_count(
    escalating: ChatFactory, api: MessagesApi
) -> None:
    chat = escalating(context_messages=3)
    for i in range(1, 7):
        await chat.say(f"release note number {i}", user=f"dev{i % 2}")
    await chat.say("off-topic in another channel", user="dev0", channel="C9")
    await chat.say(HARD, user="dev1")

    [sent] = api.received
    context = sent.user_text.split("<context>\n")[1].split("\n</context>")[0].splitlines()
    assert [line.split(": ", 1)[1] for line in context] == [
        "release note number 4",
        "release note number 5",
        "release note number 6",
    ]


async def test_context_is_capped_by_the_token_budget(
    escalating: ChatFactory, api: MessagesApi
) -> None:
    chat = escalating(context_messages=10, frontier_max_input_tokens=3_000)
    for i in range(10):
        await chat.say(f"long message {i}: " + "lorem ipsum dolor sit amet " * 22, user="writer")
    await chat.say(HARD, user="reader")

    [sent] = api.received
    context = sent.user_text.split("<context>\n")[1].split("\n</context>")[0].splitlines()
    assert 0 < len(context) < 10
    # The newest are kept, and each is cut to a bounded length.
    assert context[-1].startswith("user1: long message 9:")
    assert all(len(line) <= 620 for line in context)


async def test_a_thread_reply_gets_its_thread_not_the_channel(
    escalating: ChatFactory, api: MessagesApi
) -> None:
    chat = escalating()
    await chat.say("channel chatter", user="ann")
    await chat.say("anyone tried the beta?", user="ann", thread="t1")
    await chat.say("yes, it crashed twice", user="ben", thread="t1")
    await chat.say(HARD, user="cal", thread="t1")

    [sent] = api.received
    assert "channel chatter" not in sent.user_text
    assert "user1: anyone tried the beta?\nuser2: yes, it crashed twice" in sent.user_text
    assert '<message author="user3">' in sent.user_text


async def test_rate_limit_and_overload_are_retried_honouring_retry_after(
    escalating: ChatFactory, api: MessagesApi
) -> None:
    chat = escalating(frontier_max_retries=2)
    api.script(
        Reply("rate_limit_429", status=429, headers={"retry-after": "0"}),
        Reply("overloaded_529", status=529, headers={"retry-after": "0"}),
    )
    verdict = await chat.say(HARD, user="bob")

    assert len(api.received) == 3
    assert [r.headers.get("x-stainless-retry-count") for r in api.received] == ["0", "1", "2"]
    assert api.received[0].body == api.received[2].body
    assert verdict.route is Route.ALLOW
    assert verdict.stage == "escalate"
    assert not verdict.degraded


async def test_overload_after_all_retries_goes_to_human_review(
    escalating: ChatFactory, api: MessagesApi, redis: Redis
) -> None:
    chat = escalating(frontier_max_retries=1)
    overloaded = Reply("overloaded_529", status=529, headers={"retry-after": "0"})
    api.script(overloaded, overloaded)
    verdict = await chat.say(HARD, user="bob")

    assert len(api.received) == 2
    assert verdict.route is Route.REVIEW
    assert verdict.degraded
    assert verdict.evidence[0].rule == UNAVAILABLE_RULE
    assert verdict.evidence[0].matched == "API refused after retries: HTTP 529"
    assert [(a.type, getattr(a, "route", None)) for a in await chat.actions()] == [
        ("open_case", "review")
    ]
    record = await record_of(chat, redis, "console:T1:C1:m1")
    assert record.outcome is Outcome.UNAVAILABLE
    assert record.sent
    # A refused request costs nothing: the reservation was given back.
    assert await budget_of(chat, redis).spent() == (0.0, 0.0)


async def test_a_model_that_does_not_answer_in_time_sends_the_case_to_review(
    escalating: ChatFactory, api: MessagesApi, redis: Redis
) -> None:
    chat = escalating(frontier_timeout_s=0.2, frontier_max_retries=1)
    slow = Reply(delay_s=1.0)
    api.script(slow, slow)
    verdict = await chat.say(HARD, user="bob")

    assert len(api.received) == 2
    assert verdict.route is Route.REVIEW
    assert verdict.degraded
    assert verdict.evidence[0].rule == UNAVAILABLE_RULE
    assert "APITimeoutError" in (verdict.evidence[0].matched or "")


@pytest.mark.parametrize(
    ("reply", "error"),
    [
        (Reply("text_only"), "no record_assessment tool call (stop_reason end_turn)"),
        (Reply("tool_use_out_of_range"), "answer does not fit the schema: scores.toxicity"),
    ],
)
async def test_malformed_answers_go_to_review_and_are_not_cached(
    escalating: ChatFactory, api: MessagesApi, redis: Redis, reply: Reply, error: str
) -> None:
    chat = escalating()
    api.script(reply, reply)
    first = await chat.say(HARD, user="bob", channel="C1")
    second = await chat.say(HARD, user="bob", channel="C2")

    assert len(api.received) == 2  # nothing was cached
    for verdict in (first, second):
        assert verdict.route is Route.REVIEW
        assert verdict.degraded
        assert verdict.evidence[0].rule == UNAVAILABLE_RULE
    record = await record_of(chat, redis, "console:T1:C1:m1")
    assert record.outcome is Outcome.MALFORMED
    assert record.error.startswith(error)
    assert record.answer is not None  # what came back is kept for the moderator
    assert record.cost > 0  # a malformed answer was still billed


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ("<html>502 Bad Gateway</html>", "JSONDecodeError"),
        ('{"type": "message", "role": "assistant"}', "AttributeError"),
    ],
)
async def test_a_body_that_is_not_a_message_goes_to_review(
    escalating: ChatFactory, api: MessagesApi, redis: Redis, body: str, error: str
) -> None:
    chat = escalating(frontier_max_retries=0)
    api.script(Reply(raw=body, status=200))
    verdict = await chat.say(HARD, user="bob")

    assert len(api.received) == 1
    assert verdict.route is Route.REVIEW
    assert verdict.degraded
    record = await record_of(chat, redis, "console:T1:C1:m1")
    assert record.outcome is Outcome.MALFORMED
    assert record.error == f"response is not a Messages API answer: {error}"


async def test_no_budget_means_nothing_is_sent_and_the_case_is_reviewed(
    escalating: ChatFactory, api: MessagesApi, redis: Redis
) -> None:
    chat = escalating(frontier_daily_budget=0.0)
    verdict = await chat.say(HARD, user="bob")

    assert api.received == []
    assert verdict.route is Route.REVIEW
    assert verdict.degraded
    assert verdict.evidence[0].rule == UNAVAILABLE_RULE
    record = await record_of(chat, redis, "console:T1:C1:m1")
    assert record.outcome is Outcome.BUDGET_EXHAUSTED
    assert not record.sent
    assert record.user.endswith("</message>")  # what would have been sent is still recorded


async def test_spending_adds_up_from_reported_usage_until_the_daily_budget_is_spent(
    escalating: ChatFactory, api: MessagesApi, redis: Redis
) -> None:
    # tool_use_act reports 5,000 input and 400 output tokens: 0.015 + 0.006 = 0.021 USD.
    chat = escalating(frontier_daily_budget=0.03, frontier_monthly_budget=10.0)
    api.default = Reply("tool_use_act")
    first = await chat.say("you absolute clown, read the docs", user="mallory", channel="C1")
    second = await chat.say("you absolute clown, again", user="mallory", channel="C2")

    assert len(api.received) == 1
    assert first.route is Route.ACT  # the frontier model is sure: harassment 0.97
    assert first.category == "harassment"
    assert first.stage == "escalate"
    assert [a.type for a in await chat.actions()][:3] == ["delete", "warn", "open_case"]
    assert await budget_of(chat, redis).spent() == pytest.approx((0.021, 0.021))
    assert second.route is Route.REVIEW
    assert second.degraded
    assert "daily budget spent" in (second.evidence[0].matched or "")


async def test_the_same_redacted_conversation_is_answered_from_the_cache(
    escalating: ChatFactory, api: MessagesApi, redis: Redis, metrics: Metrics
) -> None:
    chat = escalating()
    first = await chat.say(HARD, user="bob", channel="C1")
    second = await chat.say(HARD, user="dave", channel="C2")  # pseudonymised: same prompt

    assert len(api.received) == 1
    assert first.route is second.route is Route.ALLOW
    assert second.stage == "escalate"
    record = await record_of(chat, redis, "console:T1:C2:m2")
    assert record.outcome is Outcome.CACHED
    assert not record.sent
    assert record.pseudonyms["user1"] == "dave (dave)"

    def sample(name: str, **labels: str) -> float | None:
        return metrics.registry.get_sample_value(name, labels)

    assert sample("modtriage_escalations_total", outcome="answered") == 1
    assert sample("modtriage_escalations_total", outcome="cached") == 1
    assert sample("modtriage_frontier_tokens_total", kind="input") == 1843
    assert sample("modtriage_frontier_tokens_total", kind="output") == 96
    assert sample("modtriage_frontier_cost_total") == pytest.approx((1843 * 3 + 96 * 15) / 1e6)
    # ... and the moderators' /mod stats see the same counts and spend.
    book = StatsBook(redis=redis, streams=chat.streams)
    stats = await book.window(Tenant.parse("console:T1"), days=1, until=datetime.now(UTC))
    assert stats[Counter.ESCALATED] == 2
    assert stats[Counter.escalated("cached")] == 1
    assert stats[Counter.cost("USD")] == pytest.approx((1843 * 3 + 96 * 15) / 1e6)


async def test_without_an_api_key_escalations_go_to_review_and_nothing_leaves(
    escalating: ChatFactory, api: MessagesApi, redis: Redis
) -> None:
    chat = escalating(api_key=None)
    verdict = await chat.say(HARD, user="bob")

    assert api.received == []
    assert verdict.route is Route.REVIEW
    assert verdict.degraded
    assert verdict.evidence[0].matched == "no Anthropic API key is configured"


async def test_messages_outside_the_escalation_band_never_leave(
    escalating: ChatFactory, api: MessagesApi
) -> None:
    chat = escalating()
    assert (await chat.say("good morning everyone", user="ann")).route is Route.ALLOW
    assert (await chat.say("shut up you f4gg0t", user="mallory")).route is Route.ACT
    assert api.received == []


async def test_a_frontier_model_that_is_unsure_too_sends_the_case_to_review(
    escalating: ChatFactory, api: MessagesApi
) -> None:
    chat = escalating()
    api.script(Reply("tool_use_unsure"))  # toxicity 0.9 again: no second escalation
    verdict = await chat.say(HARD, user="bob")

    assert len(api.received) == 1
    assert verdict.route is Route.REVIEW
    assert verdict.stage == "escalate"
    assert not verdict.degraded
    assert verdict.evidence[0].rule == "frontier:toxicity"
    assert [a.type for a in await chat.actions()] == ["open_case"]
