"""One judge: the pipeline, ``/mod test`` and ``modtriage classify`` judge a text the same way,
FAQ answer included, because they all run :class:`bot.pipeline.judge.Judge`."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.classifiers.onnx_encoder import OnnxEncoder
from bot.classifiers.rules_only import RulesOnlyClassifier
from bot.connection import Redis
from bot.metrics import Metrics
from bot.pipeline.judge import build_judge
from bot.policy import load_policy
from bot.review.actor import Actor
from bot.review.service import ModerationService
from bot.settings import Settings
from bot.verdict import Verdict
from tests.conftest import DEFAULT_POLICY
from tests.harness import ChatHarness
from tests.test_cli import modtriage

pytestmark = pytest.mark.tenancy


def _gist(verdict: Verdict) -> tuple[object, ...]:
    faq = verdict.classification.faq if verdict.classification else None
    return (
        verdict.route,
        verdict.category,
        verdict.stage,
        tuple(e.rule for e in verdict.evidence),
        faq.faq_id if faq else None,
        verdict.policy_version,
    )


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ("shut up you f4gg0t", ["route: act  category: hate", "actions: delete, warn, open_case"]),
        ("join discord.gg/abc123 now", ["route: act  category: spam"]),
        ("the setup step fails on ubuntu, what do I need?",
         ["route: allow  category: -", "faq answer: install (match "]),
        ("good morning everyone", ["route: allow  category: -", "actions: none"]),
    ],
)  # fmt: skip
async def test_mod_test_classify_and_the_pipeline_give_the_same_verdict(
    redis: Redis, settings: Settings, metrics: Metrics, tmp_path: Path, text: str, said: list[str]
) -> None:
    policy = load_policy(DEFAULT_POLICY)  # as shipped: FAQ answers on
    encoder = OnnxEncoder()
    chat = ChatHarness(
        redis=redis, settings=settings, policy=policy, classifier=RulesOnlyClassifier(),
        metrics=metrics, encoder=encoder,
    )  # fmt: skip
    service = ModerationService(
        redis=redis, streams=chat.streams, policy=policy,
        judges=lambda judged: build_judge(
            policy=judged, classifier=RulesOnlyClassifier(), settings=settings, encoder=encoder
        ),
    )  # fmt: skip
    admin = Actor(platform="console", workspace="T1", user_id="mod", is_admin=True)

    in_pipeline = await chat.say(text, user="newbie", channel="C-help")
    tested = await service.test(admin, text)

    assert _gist(tested) == _gist(in_pipeline)
    classified = modtriage("classify", text, tmp_path=tmp_path)
    assert classified.returncode == 0, classified.stderr
    for line in said:
        assert line in classified.stdout
    # /mod test recorded nothing: only the pipeline's own message has a verdict and actions
    assert await redis.xlen(chat.streams.verdicts) == 1
