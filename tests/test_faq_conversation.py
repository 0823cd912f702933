"""FAQ answers in a chat: moderation first, one answer per thread, switches and feedback."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.action import Reply
from bot.classifiers.onnx_encoder import STOCK_ENCODER_DIR, OnnxEncoder
from bot.classifiers.rules_only import RulesOnlyClassifier
from bot.connection import Redis
from bot.faq.channels import FaqChannels
from bot.faq.feedback import FaqFeedback, FeedbackCount
from bot.metrics import Metrics
from bot.policy import Policy, load_policy
from bot.settings import Settings
from bot.stats import Stats, StatsBook
from bot.streams import Streams
from bot.tenant import Tenant
from bot.verdict import Route
from tests.conftest import DEFAULT_POLICY
from tests.harness import ChatHarness

QUESTION = "the setup step fails on ubuntu, what do I need?"
INSTALL_ANSWER_START = "Install from PyPI into a virtual environment"


@pytest.fixture(scope="module")
def encoder() -> OnnxEncoder:
    return OnnxEncoder(model_dir=STOCK_ENCODER_DIR)  # the FAQ encoder the bot uses


def _chat(
    redis: Redis, settings: Settings, policy: Policy, metrics: Metrics, encoder: OnnxEncoder
) -> ChatHarness:
    return ChatHarness(
        redis=redis, settings=settings, policy=policy, classifier=RulesOnlyClassifier(),
        metrics=metrics, encoder=encoder,
    )  # fmt: skip


@pytest.fixture(scope="module")
def faq_policy() -> Policy:
    """The default policy as shipped: FAQ answers on, from bot/policies/faq.yaml."""
    return load_policy(DEFAULT_POLICY)


@pytest.fixture
def chat(
    redis: Redis, settings: Settings, faq_policy: Policy, metrics: Metrics, encoder: OnnxEncoder
) -> ChatHarness:
    return _chat(redis, settings, faq_policy, metrics, encoder)


async def test_a_covered_question_gets_the_approved_answer_in_its_thread(
    chat: ChatHarness,
) -> None:
    verdict = await chat.say(QUESTION, user="newbie", channel="C-help")
    [reply] = await chat.actions()
    assert isinstance(reply, Reply)
    assert reply.faq_id == "install"
    assert reply.text.startswith(INSTALL_ANSWER_START)
    assert reply.thread == "m1"  # a top-level message starts the thread
    assert reply.feedback_buttons
    assert reply.user_id == "newbie"
    assert verdict.route is Route.ALLOW
    assert verdict.action_ids == (reply.id,)
    assert verdict.classification is not None
    assert verdict.classification.faq is not None
    assert verdict.classification.faq.faq_id == "install"


async def test_answers_count_in_the_tenants_stats_by_entry(chat: ChatHarness) -> None:
    await chat.say(QUESTION, user="newbie", channel="C-help")
    await chat.say("see you all tomorrow", user="newbie", channel="C-help")
    tenant = Tenant(platform=chat.platform, workspace=chat.workspace)
    counts = await StatsBook(redis=chat.redis, streams=chat.streams).window(
        tenant, days=1, until=datetime.now(UTC)
    )
    stats = Stats.of(counts, days=1, until=datetime.now(UTC).date())
    assert (stats.messages_decided, stats.faq_answered) == (2, 1)
    assert stats.faq_answers == {"install": 1}


async def test_the_bot_never_repeats_an_answer_in_a_thread(chat: ChatHarness) -> None:
    await chat.say(QUESTION, user="newbie")
    await chat.say("the setup step fails on ubuntu, what do I need??", user="other", thread="m1")
    await chat.say("what's the recommended way to install the package?", thread="m1")
    assert [a.thread for a in await chat.actions()] == ["m1"]
    await chat.say(QUESTION, user="someone_else")  # a new thread gets its answer
    assert [a.thread for a in await chat.actions()] == ["m1", "m4"]


async def test_moderation_runs_first_a_spam_question_gets_no_answer(chat: ChatHarness) -> None:
    verdict = await chat.say("how do I install it? free nitro at discord-gift.example.ru")
    assert verdict.route is Route.ACT
    assert "reply" not in [a.type for a in await chat.actions()]


async def test_an_uncovered_question_and_chatter_get_silence(chat: ChatHarness) -> None:
    await chat.say("how do I change the default port of the dev server?")
    await chat.say("install went fine on my machine, thanks all")
    assert await chat.actions() == []


async def test_bots_are_not_answered(chat: ChatHarness) -> None:
    message = chat.message(QUESTION, user="ci-bot")
    author = message.author.model_copy(update={"is_bot": True})
    bot_message = message.model_copy(update={"author": author})
    await chat.ingest.publish(bot_message)
    await chat.worker.ensure_group()
    while await chat.verdict(bot_message) is None:
        await chat.worker.step()
    assert await chat.actions() == []


async def test_channels_switch_at_run_time_over_the_policy(
    chat: ChatHarness, redis: Redis, settings: Settings
) -> None:
    channels = FaqChannels(redis=redis, streams=Streams(namespace=settings.namespace))
    here = Tenant(platform=chat.platform, workspace=chat.workspace)
    await channels.switch(Tenant(platform=chat.platform, workspace="OTHER"), "C-random", False)
    await chat.say(QUESTION, channel="C-random")  # another workspace's switch changes nothing
    assert [a.type for a in await chat.actions()] == ["reply"]
    await channels.switch(here, "C-random", False)
    await chat.say(QUESTION, channel="C-random", user="bob")
    assert [a.type for a in await chat.actions()] == ["reply"]  # no second answer
    await channels.switch(here, "C-random", None)  # back to the policy: answers on
    await chat.say(QUESTION, channel="C-random", user="carol")
    assert [a.type for a in await chat.actions()] == ["reply", "reply"]


async def test_policy_switches_channels_and_shadow_mode(
    redis: Redis, settings: Settings, metrics: Metrics, encoder: OnnxEncoder, tmp_path: Path
) -> None:
    text = DEFAULT_POLICY.read_text().replace(
        "channels: {}", "channels:\n  C-off: {faq: false}\n  C-shadow: {shadow: true}"
    )
    text = text.replace("file: faq.yaml", f"file: {DEFAULT_POLICY.parent / 'faq.yaml'}")
    path = tmp_path / "policy.yaml"
    path.write_text(text)
    policy = load_policy(path)
    chat = _chat(redis, settings, policy, metrics, encoder)
    await chat.say(QUESTION, channel="C-off")
    await chat.say(QUESTION, channel="C-shadow")
    assert await chat.actions() == []
    await chat.say(QUESTION, channel="C-on")
    assert [a.type for a in await chat.actions()] == ["reply"]


async def test_feedback_is_one_vote_per_member_and_can_change(
    chat: ChatHarness, redis: Redis, settings: Settings
) -> None:
    await chat.say(QUESTION)
    [reply] = await chat.actions()
    assert isinstance(reply, Reply)
    assert reply.faq_id is not None
    feedback = FaqFeedback(redis=redis, streams=Streams(namespace=settings.namespace))
    vote = {"answer": reply.id, "faq_id": reply.faq_id}
    assert await feedback.record(**vote, voter="alice", helpful=True)
    assert not await feedback.record(**vote, voter="alice", helpful=True)  # a repeat
    assert await feedback.record(**vote, voter="bob", helpful=True)
    assert await feedback.record(**vote, voter="bob", helpful=False)  # changed their mind
    assert await feedback.counts() == {"install": FeedbackCount(helpful=1, not_helpful=1)}
