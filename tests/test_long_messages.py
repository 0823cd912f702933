"""A long message cannot hide a threat behind benign padding: the small model reads its head and
its tail, and the frontier model is shown both. The real embedded model, in a chat."""

from __future__ import annotations

import pytest

from bot.classifiers.embedded import PACKAGED_HEADS, EmbeddedClassifier
from bot.classifiers.heads import Heads
from bot.classifiers.onnx_encoder import OnnxEncoder
from bot.classifiers.windows import windows
from bot.connection import Redis
from bot.escalation.prompt import build_prompt
from bot.excerpt import excerpts
from bot.message import Author, Message
from bot.metrics import Metrics
from bot.pipeline.judge import build_judge
from bot.policy import Policy
from bot.settings import Settings
from bot.verdict import Route
from tests.harness import ChatHarness

THREAT = "I will find where you live and kill you"
CHATTER = "Thanks for the update on the release, the notes look good to me. "
PADDING = CHATTER * (5000 // len(CHATTER) + 1)  # over 5,000 characters, whole sentences


@pytest.fixture(scope="module")
def classifier(default_policy: Policy) -> EmbeddedClassifier:
    return EmbeddedClassifier(
        encoder=OnnxEncoder(), heads=Heads.load(PACKAGED_HEADS), policy=default_policy
    )


@pytest.fixture
def chat(
    redis: Redis,
    settings: Settings,
    default_policy: Policy,
    metrics: Metrics,
    classifier: EmbeddedClassifier,
) -> ChatHarness:
    return ChatHarness(
        redis=redis, settings=settings, policy=default_policy, classifier=classifier,
        metrics=metrics,
    )  # fmt: skip


@pytest.mark.parametrize(
    "text", [PADDING + THREAT, THREAT + " " + PADDING], ids=["after-padding", "before-padding"]
)
async def test_a_threat_padded_with_benign_chat_is_not_allowed(
    chat: ChatHarness, text: str
) -> None:
    alone = await chat.say(THREAT, user="mallory")
    assert alone.route is not Route.ALLOW

    padded = await chat.say(text, user="mallory-again", channel="C2")
    assert padded.route is not Route.ALLOW, padded.classification
    assert padded.stage == "classify"
    assert {"violence", "harassment"} & {e.category for e in padded.evidence}


async def test_the_padding_alone_stays_allowed(chat: ChatHarness) -> None:
    verdict = await chat.say(PADDING, user="alice")
    assert verdict.route is Route.ALLOW, verdict.classification
    assert await chat.actions() == []


async def test_mod_test_reads_a_long_message_as_the_pipeline_does(
    chat: ChatHarness, default_policy: Policy, classifier: EmbeddedClassifier
) -> None:
    in_pipeline = await chat.say(PADDING + THREAT, user="mallory")
    preview = build_judge(policy=default_policy, classifier=classifier)
    [tested] = await preview.judge([chat.message(PADDING + THREAT, user="mallory")])
    assert tested.verdict is not None
    assert tested.verdict.route is in_pipeline.route
    assert tested.verdict.category == in_pipeline.category


def test_the_frontier_model_is_shown_the_head_and_the_tail(default_policy: Policy) -> None:
    message = Message(
        platform="console", workspace="T1", channel="C1", id="m1",
        author=Author(id="U1", name="mallory"), text=PADDING + THREAT,
    )  # fmt: skip
    prompt = build_prompt(
        policy=default_policy,
        message=message,
        context=[],
        max_input_tokens=3000,
        max_message_chars=2000,
    )
    assert prompt.user.count(CHATTER.strip()) < PADDING.count(CHATTER.strip())
    assert " … " in prompt.user
    assert THREAT in prompt.user


def test_a_long_text_is_read_as_a_head_and_a_tail_of_half_the_budget_each() -> None:
    assert excerpts("short and sweet", 2000) == ("short and sweet",)
    head, tail = excerpts(PADDING + THREAT, 2000)
    assert len(head) <= 1000
    assert len(tail) <= 1000
    assert PADDING.startswith(head)
    assert tail.endswith(THREAT)
    assert not head.endswith(" ")  # cut at a word boundary
    assert tail.split()[0] in CHATTER.split()


def test_the_encoder_reads_a_long_text_also_through_both_of_its_ends() -> None:
    assert windows("see you tomorrow") == ("see you tomorrow",)
    text = "Thanks all. " + CHATTER * 3 + "One last thing. " + THREAT
    read = windows(text)
    assert read[0] == text
    assert "Thanks all." in read  # the first sentence
    assert THREAT in read  # the last sentence
    assert " ".join(text.split()[-12:]) in read  # the last twelve words
