"""Member notices in the community's words: a category's ``notice`` template fills the warning
the member reads, from the bot and from a moderator; a template with a mistake stops start-up
naming the file and the key."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from bot.action import WarnUser
from bot.classifiers.rules_only import RulesOnlyClassifier
from bot.connection import Redis
from bot.errors import PolicyError
from bot.metrics import Metrics
from bot.notice_template import check_template, render
from bot.policy import Policy, load_policy
from bot.review.decision import Decision
from bot.settings import Settings
from tests.conftest import ROOT
from tests.harness import ChatHarness
from tests.policy_variants import policy_variant
from tests.review_harness import Clock, FixedScores, ReviewHarness, moderator

SLUR = "shut up you f4gg0t"
INSULT = "you're kind of an idiot about this"
FRIENDLY = "Hey, {action} because it broke {rule}. You wrote: “{excerpt}”. {reason} {appeal}"


def _policy(tmp_path: Path, notices: dict[str, str]) -> Path:
    def edit(raw: dict[str, Any]) -> None:
        for category, text in notices.items():
            raw["categories"][category]["notice"] = text

    return policy_variant(tmp_path / "community.yaml", edit)


def test_placeholders_are_filled_and_blanks_tidied() -> None:
    text = render("{action}. {reason} {appeal}", action="your message was removed", appeal="Ask.")
    assert text == "Your message was removed. Ask."
    long = render("“{excerpt}”", excerpt="x" * 500)
    assert len(long) == 122  # 120 characters of the message, the ellipsis counted, in quotes
    assert render("{{literal}} {rule}", rule="r") == "{literal} r"


@pytest.mark.parametrize(
    ("template", "complaint"),
    [
        ("Hi {member}", "unknown placeholder {member}; use {rule}, {excerpt}"),
        ("Hi {rule:>10}", "placeholder {rule} takes no format"),
        ("Hi {rule", "write {{ and }} for literal braces"),
    ],
)
def test_a_mistake_in_a_template_is_named(template: str, complaint: str) -> None:
    with pytest.raises(ValueError, match=complaint.replace("{", r"\{").replace("}", r"\}")):
        check_template(template)


def test_a_policy_with_an_unknown_placeholder_names_the_file_and_key(tmp_path: Path) -> None:
    path = _policy(tmp_path, {"hate": "You said {excerpt} to {member}"})
    with pytest.raises(PolicyError) as caught:
        load_policy(path)
    said = str(caught.value)
    assert "community.yaml" in said
    assert "categories.hate.notice" in said
    assert "{member}" in said


def test_start_up_stops_on_a_bad_template_with_one_line(tmp_path: Path) -> None:
    path = _policy(tmp_path, {"toxicity": "Calm down {user}"})
    env = {k: v for k, v in os.environ.items() if not k.startswith("MODTRIAGE_")} | {
        "MODTRIAGE_POLICY": str(path),
        "MODTRIAGE_CLASSIFIER": "rules",
        "MODTRIAGE_DATA_DIR": str(tmp_path / "data"),
        "MODTRIAGE_WORKER_PROCESSES": "1",
    }
    run = subprocess.run(
        [sys.executable, "-m", "bot", "worker"], env=env, cwd=ROOT,
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert run.returncode == 2
    lines = [line for line in run.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, run.stderr
    assert "community.yaml" in lines[0]
    assert "categories.toxicity.notice" in lines[0]
    assert "{user}" in lines[0]


async def test_the_bots_own_warning_uses_the_communitys_words(
    redis: Redis, settings: Settings, metrics: Metrics, tmp_path: Path
) -> None:
    policy = load_policy(_policy(tmp_path, {"hate": FRIENDLY}))
    chat = ChatHarness(
        redis=redis, settings=settings, policy=policy, classifier=RulesOnlyClassifier(),
        metrics=metrics,
    )  # fmt: skip
    await chat.say(SLUR, user="troll")
    [warning] = [a for a in await chat.actions() if isinstance(a, WarnUser)]
    first = policy.categories["hate"].description.split(". ")[0].rstrip(".")
    assert warning.text == (
        f"Hey, your message was removed because it broke the rule 'hate' ({first}). "
        f"You wrote: “{SLUR}”. If you think this is a mistake, you can appeal."
    )


async def test_a_category_without_a_template_keeps_the_default_words(
    redis: Redis, settings: Settings, metrics: Metrics, default_policy: Policy
) -> None:
    chat = ChatHarness(
        redis=redis, settings=settings, policy=default_policy, classifier=RulesOnlyClassifier(),
        metrics=metrics,
    )  # fmt: skip
    await chat.say(SLUR, user="troll")
    [warning] = [a for a in await chat.actions() if isinstance(a, WarnUser)]
    assert warning.text.startswith("Your message was flagged under the rule 'hate'")


async def test_a_moderators_timeout_is_told_in_the_communitys_words(
    redis: Redis, settings: Settings, metrics: Metrics, tmp_path: Path
) -> None:
    policy = load_policy(_policy(tmp_path, {"toxicity": FRIENDLY + " ({duration})"}))
    chat = ChatHarness(
        redis=redis, settings=settings, policy=policy,
        classifier=FixedScores({INSULT: {"toxicity": 0.7}}), metrics=metrics,
    )  # fmt: skip
    review = ReviewHarness(chat=chat, clock=Clock(datetime(2026, 11, 27, 12, 0, tzinfo=UTC)))
    await review.chat.say(INSULT, user="bob")
    await review.settle()
    [case] = await review.service.queue(moderator())
    await review.service.decide(
        moderator(), case.id, Decision(kind="timeout", duration_s=3600, reason="cool off")
    )
    await review.settle()
    [notice] = [a for a in review.platform.performed if isinstance(a, WarnUser)]
    first = policy.categories["toxicity"].description.split(". ")[0].rstrip(".")
    assert notice.text == (
        f"Hey, you are timed out for 1 hour because it broke the rule 'toxicity' ({first}). "
        f"You wrote: “{INSULT}”. cool off You can appeal case {case.id}. (1 hour)"
    )
