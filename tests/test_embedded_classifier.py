"""The default small model, for real: packaged encoder through onnxruntime + shipped heads."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from bot.classifiers import build_classifier
from bot.classifiers.embedded import PACKAGED_HEADS, EmbeddedClassifier
from bot.classifiers.heads import Heads, TrainConfig
from bot.classifiers.onnx_encoder import OnnxEncoder
from bot.classifiers.training import train_heads
from bot.connection import Redis
from bot.metrics import Metrics
from bot.policy import Category, Examples, Policy
from bot.settings import Settings
from bot.verdict import Route
from tests.harness import ChatHarness


@pytest.fixture(scope="module")
def encoder() -> OnnxEncoder:
    return OnnxEncoder()


@pytest.fixture(scope="module")
def heads() -> Heads:
    return Heads.load(PACKAGED_HEADS)


@pytest.fixture
def embedded_chat(
    redis: Redis,
    settings: Settings,
    default_policy: Policy,
    metrics: Metrics,
    encoder: OnnxEncoder,
    heads: Heads,
) -> ChatHarness:
    classifier = EmbeddedClassifier(encoder=encoder, heads=heads, policy=default_policy)
    return ChatHarness(
        redis=redis, settings=settings, policy=default_policy, classifier=classifier,
        metrics=metrics,
    )  # fmt: skip


CLEAR = [
    ("immigrants are vermin and should all be thrown out of this country", "hate"),
    ("all muslims are terrorists and should be deported", "hate"),
    ("FREE NITRO!!! claim yours now at discord-gift.example.ru before it expires", "spam"),
    ("I can't do this anymore, I'm going to kill myself tonight", "self_harm"),
    ("I know where you live and I'm going to come and stab you", "violence"),
]
BENIGN = [
    "thanks for the help with the release yesterday!",
    "someone in #general called immigrants vermin, can a mod take a look?",
    "I don't hate anyone for their religion",
    "proud to be gay and proud of this community",
    "holy shit this update is amazing",
    "this bug is killing me",
    "does anyone know how to reset my password?",
    "can my 12 year old son have his own account?",
    "my kids loved the school trip to the science museum",
]
# batch mates a message may arrive with: a quiet channel, or one busy with long posts
QUIET = ["ok", "thanks!", "lol", "see you tomorrow", "nice one", "brb", "gg"]
BUSY = [
    "the release notes are long this time, " * 12,
    "we moved the meetup to thursday because of the venue, " * 8,
    "can someone review my pull request when they have a minute " * 6,
    "lorem ipsum dolor sit amet " * 20,
    "I spent the weekend fixing the build and writing docs " * 7,
    "hello everyone " * 30,
    "the quick brown fox jumps over the lazy dog " * 9,
]
PARENTS = [
    "how do I open an account for my children?",
    "is there a discord server for parents of teenagers?",
    "what are the requirements to open an account for a minor?",
    "my daughter is 13, can she join the coding club?",
]


@pytest.mark.parametrize(("text", "category"), CLEAR)
async def test_clear_violations_reach_review(
    encoder: OnnxEncoder, heads: Heads, default_policy: Policy, text: str, category: str
) -> None:
    classifier = EmbeddedClassifier(encoder=encoder, heads=heads, policy=default_policy)
    [result] = await classifier.classify([text])
    assert result.scores[category] >= default_policy.thresholds(category).review, result.scores


@pytest.mark.parametrize("text", BENIGN)
async def test_benign_messages_stay_allowed(embedded_chat: ChatHarness, text: str) -> None:
    verdict = await embedded_chat.say(text, user="alice")
    assert verdict.route is Route.ALLOW, verdict.classification
    assert await embedded_chat.actions() == []


@pytest.mark.parametrize("text", PARENTS)
async def test_a_parent_asking_about_children_is_never_removed_or_banned(
    embedded_chat: ChatHarness, text: str
) -> None:
    # sexual_minors acts with delete + ban; its head learned from a handful of examples
    verdict = await embedded_chat.say(text, user="parent")
    assert verdict.route is not Route.ACT, verdict.classification
    # at most a case in the review queue for a person to look at
    assert {action.type for action in await embedded_chat.actions()} <= {"open_case"}


async def test_a_hateful_message_is_acted_on_or_reviewed(embedded_chat: ChatHarness) -> None:
    verdict = await embedded_chat.say("women are too stupid to be engineers", user="mallory")
    assert verdict.route in {Route.REVIEW, Route.ACT}
    assert verdict.category == "hate"
    assert verdict.stage == "classify"
    assert verdict.model is not None
    assert verdict.model.startswith("embedded:modtriage-minilm-l6-moderation-int8@")


def test_calibration_is_monotone(heads: Heads) -> None:
    grid = np.linspace(0.0, 1.0, 1001, dtype=np.float32)
    calibrated = {c: card.calibration for c, card in heads.cards.items() if card.calibration}
    # every category is calibrated on what leave-source-out folds scored on sources they
    # never saw (sexual_minors from the request sets' handful of rows: see the data card)
    assert set(calibrated) == set(heads.cards)
    assert {card.calibrated_on for card in heads.cards.values()} == {"out-of-source"}
    for category, calibration in calibrated.items():
        mapped = calibration(grid)
        assert np.all(np.diff(mapped) >= 0), category
        assert 0.0 <= mapped[0] <= mapped[-1] <= 1.0


async def test_scores_only_the_policy_categories(
    encoder: OnnxEncoder, heads: Heads, default_policy: Policy
) -> None:
    small = default_policy.model_copy(
        update={
            "categories": {
                "spam": default_policy.categories["spam"],
                "scalping": Category(description="reselling event tickets above face value"),
            },
            "rules": default_policy.rules,
        }
    )
    classifier = EmbeddedClassifier(encoder=encoder, heads=heads, policy=small)
    [result] = await classifier.classify(["selling 2 concert tickets, 3x face value, dm"])
    assert set(result.scores) == {"spam"}
    assert classifier.unscored == ("scalping",)


def test_build_classifier_defaults_to_the_embedded_model(
    default_policy: Policy, tmp_path: Path
) -> None:
    settings = Settings(data_dir=tmp_path, _env_file=None)  # type: ignore[call-arg]
    assert settings.classifier == "embedded"
    classifier = build_classifier(settings, default_policy)
    assert classifier.name.startswith("embedded:")


async def test_a_new_category_trained_from_a_dozen_examples_changes_decisions(
    redis: Redis,
    settings: Settings,
    default_policy: Policy,
    metrics: Metrics,
    encoder: OnnxEncoder,
    heads: Heads,
    tmp_path: Path,
) -> None:
    spoilers = Category(
        description="Revealing plot twists or endings of films, series, books or games.",
        severity="low",
        on_act=("open_case",),
        examples=Examples(
            positive=(
                "spoiler: the villain was her father all along",
                "the twist at the end is that he was a ghost the whole time",
                "in the last chapter the queen betrays everyone and takes the throne",
                "so the final boss is actually your mentor, crazy ending",
                "the finale reveals the narrator made the whole story up",
                "turns out the detective was the killer in the last episode",
            ),
            negative=(
                "just finished the season finale, no spoilers but wow",
                "has anyone watched the new episode yet?",
                "the trailer for season 2 is out",
                "what time does the movie premiere tonight?",
                "I loved the soundtrack of that game",
                "please use spoiler tags when talking about the finale",
            ),
        ),
    )
    policy = default_policy.model_copy(
        update={"categories": {**default_policy.categories, "spoilers": spoilers}}
    )
    text = "big reveal of the finale: the butler was the thief and the heroine's own sister"
    before = ChatHarness(
        redis=redis, settings=settings, policy=policy, metrics=metrics,
        classifier=EmbeddedClassifier(encoder=encoder, heads=heads, policy=policy),
    )  # fmt: skip
    assert (await before.say(text, user="bob")).route is Route.ALLOW

    result = train_heads(
        policy,
        encoder=encoder,
        data_dir=None,
        cache_dir=tmp_path / "embeddings",
        config=TrainConfig(epochs=20),
    )
    retrained = result.heads
    assert "spoilers" in retrained.categories
    result.heads.save(tmp_path / "heads" / "spoilers")
    after = ChatHarness(
        redis=redis, policy=policy, metrics=metrics,
        settings=settings.model_copy(update={"namespace": f"{settings.namespace}-after"}),
        classifier=EmbeddedClassifier(
            encoder=encoder, heads=Heads.load(tmp_path / "heads" / "spoilers"), policy=policy
        ),
    )  # fmt: skip
    verdict = await after.say(text, user="bob")
    assert verdict.route is not Route.ALLOW
    assert "spoilers" in {e.category for e in verdict.evidence}
    benign = await after.say("who is coming to the watch party on friday?", user="carol")
    assert "spoilers" not in {e.category for e in benign.evidence}


async def test_a_message_is_judged_the_same_whatever_it_is_batched_with(
    redis: Redis, settings: Settings, default_policy: Policy, metrics: Metrics, heads: Heads
) -> None:
    # the int8 graph quantises activations with one scale per batch tensor: run in a batch,
    # this message's violence score moved by 0.41 with its batch mates, and so did its route
    verdicts = []
    for channel, mates in (("quiet", QUIET), ("busy", BUSY)):
        chat = ChatHarness(
            redis=redis, policy=default_policy, metrics=metrics,
            settings=settings.model_copy(update={"namespace": f"{settings.namespace}-{channel}"}),
            classifier=EmbeddedClassifier(
                encoder=OnnxEncoder(remember=0), heads=heads, policy=default_policy
            ),
        )  # fmt: skip
        for i, text in enumerate(mates):
            await chat.ingest.publish(chat.message(text, user=f"member{i}", channel=channel))
        message = chat.message("drink bleach and die", user="mallory", channel=channel)
        await chat.ingest.publish(message)
        await chat.worker.ensure_group()
        assert await chat.worker.step() == len(mates) + 1, "one batch"
        verdicts.append(await chat.verdict(message))
    quiet, busy = verdicts
    assert quiet is not None
    assert busy is not None
    assert quiet.route is busy.route
    assert quiet.classification == busy.classification
