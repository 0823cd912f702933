"""``modtriage shadow report``: what shadow mode would have done, for an operator, from the
cases the real pipeline opened in shadow mode and the decisions moderators took on them."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta

import pytest
import typer
from typer.testing import CliRunner

from bot.connection import redis_client
from bot.metrics import Metrics
from bot.policy import Policy
from bot.review.commands import app as review_app
from bot.review.decision import Decision
from bot.settings import Settings
from tests.harness import ChatHarness
from tests.review_harness import Clock, FixedScores, ReviewHarness, moderator

pytestmark = pytest.mark.insights

KEYS = {
    "tenant", "days", "since", "until", "cases", "categories", "routes", "actions", "handled",
    "agreed", "disagreed", "agreement", "decisions", "examples",
}  # fmt: skip
EXAMPLE_KEYS = {
    "case_id", "category", "route", "would", "decision", "agreed", "text", "channel",
    "message_id", "link",
}  # fmt: skip
INSULT = "you are a worthless idiot"


async def _shadow_week(settings: Settings, policy: Policy, metrics: Metrics) -> list[str]:
    """Shadow mode on in the policy file: a slur (act), an insult (review) and a slur that
    came before the window; a moderator upholds the first and overturns the second."""
    redis = redis_client(settings.redis_url or "")
    try:
        chat = ChatHarness(
            redis=redis, settings=settings, policy=policy.model_copy(update={"shadow": True}),
            classifier=FixedScores({INSULT: {"toxicity": 0.7}}), metrics=metrics,
        )  # fmt: skip
        clock = Clock(datetime.now(UTC) - timedelta(days=9))
        review = ReviewHarness(chat=chat, clock=clock)
        await chat.say("shut up you f4gg0t", user="old")  # nine days ago: outside a week
        clock.now = datetime.now(UTC)
        await chat.say("shut up you f4gg0t", user="mallory")
        await chat.say(INSULT, user="bob")
        await review.settle()
        old, slur, insult = (c.id for c in await review.service.queue(moderator()))
        await review.service.decide(moderator(), slur, Decision(kind="remove"))
        await review.service.decide(moderator(), insult, Decision(kind="dismiss"))
        return [old, slur, insult]
    finally:
        await redis.aclose()


@pytest.fixture
def cli(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> typer.Typer:
    monkeypatch.setenv("REDIS_URL", settings.redis_url or "")
    monkeypatch.setenv("MODTRIAGE_NAMESPACE", settings.namespace)
    root = typer.Typer()

    @root.command()
    def version() -> None:
        """Stands in for the main app's own commands."""

    root.add_typer(review_app)
    return root


def test_the_shadow_report_from_the_command_line(
    cli: typer.Typer, settings: Settings, default_policy: Policy, metrics: Metrics
) -> None:
    old, slur, insult = asyncio.run(_shadow_week(settings, default_policy, metrics))
    runner = CliRunner()

    said = runner.invoke(cli, ["shadow", "report", "--workspace", "console:T1", "--json"])
    assert said.exit_code == 0, said.output
    report = json.loads(said.output)
    assert set(report) == KEYS
    assert {k: report[k] for k in KEYS - {"since", "until", "examples"}} == {
        "tenant": "console:T1",
        "days": 7,
        "cases": 2,
        "categories": {
            "hate": {"cases": 1, "handled": 1, "agreed": 1, "disagreed": 0},
            "toxicity": {"cases": 1, "handled": 1, "agreed": 0, "disagreed": 1},
        },
        "routes": {"act": 1, "review": 1},
        "actions": {"delete": 1, "warn": 1},  # a review holds nothing back
        "handled": 2,
        "agreed": 1,
        "disagreed": 1,
        "agreement": 0.5,
        "decisions": {"dismiss": 1, "remove": 1},
    }
    assert [e["case_id"] for e in report["examples"]] == [insult, slur]  # disagreement first
    assert all(set(e) == EXAMPLE_KEYS for e in report["examples"])
    assert report["examples"][1]["would"] == ["delete", "warn"]
    assert old not in {e["case_id"] for e in report["examples"]}

    # ten days back, the older slur counts too
    wider = json.loads(
        runner.invoke(
            cli, ["shadow", "report", "--workspace", "console:T1", "--days", "10", "--json"]
        ).output
    )
    assert (wider["cases"], wider["handled"]) == (3, 2)

    text = runner.invoke(cli, ["shadow", "report", "--workspace", "console:T1"]).output
    assert text.startswith("console:T1: shadow mode over the last 7 days (")
    assert "moderators decided 2: agreed 1, disagreed 1 (50% agreement)" in text
    bad = runner.invoke(cli, ["shadow", "report", "--workspace", "console:T1", "--days", "0"])
    assert bad.exit_code == 2
    assert "a report covers 1 to 400 days" in bad.output
