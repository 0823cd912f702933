"""``modtriage backtest``: members who would cross a strike step, the frontier model's calls
and their cost, and routes per category, counted by hand on a small recorded history."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml

from bot import plots
from bot.connection import Redis
from bot.escalation.estimate import OUTPUT_TOKENS
from bot.insights.backtest import Backtest, BacktestReport, read_decisions, read_history
from bot.metrics import Metrics
from bot.policy import Policy, load_policy
from bot.review.decision import Decision
from bot.settings import Settings
from bot.tenant import Tenant
from tests.conftest import DEFAULT_POLICY
from tests.harness import ChatHarness
from tests.review_harness import Clock, FixedScores, ReviewHarness, moderator
from tests.test_backtest import _cli

pytestmark = [pytest.mark.insights, pytest.mark.review]

# Under the default policy (ladder 3: timeout, 6: kick, 10: ban; hate 3 points, toxicity 1;
# escalation off) every message goes to review. Each in its own channel, so none repeats an
# incident. Moderators remove ann's hate and cy's rudeness, dismiss bob's borderline ones.
SCORES = {
    "clear ann 1": {"hate": 0.6},
    "clear ann 2": {"hate": 0.6},
    "borderline bob 1": {"hate": 0.4},
    "borderline bob 2": {"hate": 0.4},
    "rude cy 1": {"toxicity": 0.35},
    "rude cy 2": {"toxicity": 0.35},
    "rude cy 3": {"toxicity": 0.35},
    "severe dee 1": {"hate": 0.9},
    "severe eve 1": {"hate": 0.85},
}
REMOVED = {"clear ann 1", "clear ann 2", "rude cy 1", "rude cy 2", "rude cy 3"}
DISMISSED = {"borderline bob 1", "borderline bob 2"}


def candidate_file(tmp_path: Path) -> Path:
    """Hate reviewed from 0.5, escalation on; toxicity acted on from 0.3 at 2 points."""
    raw = yaml.safe_load(DEFAULT_POLICY.read_text())
    raw["name"] = "candidate"
    raw["categories"]["hate"]["thresholds"]["review"] = 0.5
    raw["categories"]["toxicity"]["thresholds"] = {"review": 0.3, "escalate": 0.3, "act": 0.3}
    raw["categories"]["toxicity"]["strike_points"] = 2
    raw["escalation"]["enabled"] = True
    raw["faq"]["enabled"] = False
    raw["faq"].pop("file", None)
    path = tmp_path / "candidate.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path


async def record_history(
    redis: Redis, settings: Settings, policy: Policy, metrics: Metrics
) -> ReviewHarness:
    chat = ChatHarness(
        redis=redis, settings=settings, policy=policy, classifier=FixedScores(SCORES),
        metrics=metrics,
    )  # fmt: skip
    review = ReviewHarness(chat=chat, clock=Clock(datetime(2026, 11, 27, 12, 0, tzinfo=UTC)))
    said = [
        chat.message(text, user=text.split()[1], channel=f"C{n}") for n, text in enumerate(SCORES)
    ]
    for message in said:
        await chat.ingest.publish(message)
    await chat.worker.ensure_group()
    while await chat.worker.step():
        pass
    await review.settle()
    for message in said:
        if message.text in REMOVED | DISMISSED:
            case_id = await review.service.store.case_for_message(message.key)
            assert case_id is not None
            kind = "remove" if message.text in REMOVED else "dismiss"
            await review.service.decide(moderator(), case_id, Decision(kind=kind))
    return review


@pytest.fixture
async def recorded(
    redis: Redis, settings: Settings, default_policy: Policy, metrics: Metrics
) -> ReviewHarness:
    return await record_history(redis, settings, default_policy, metrics)


async def backtest(review: ReviewHarness, settings: Settings, tmp_path: Path) -> BacktestReport:
    chat = review.chat
    tenant = Tenant(platform="console", workspace="T1")
    history = await read_history(chat.redis, chat.streams, tenant)
    decisions = await read_decisions(chat.redis, chat.streams, tenant)
    return await Backtest(settings=settings, classifier=FixedScores(SCORES)).run(
        history, load_policy(candidate_file(tmp_path)), tenant=tenant, decisions=decisions,
        current=chat.policy,
    )  # fmt: skip


async def test_members_who_would_cross_a_strike_step(
    recorded: ReviewHarness, settings: Settings, tmp_path: Path
) -> None:
    report = await backtest(recorded, settings, tmp_path)

    # recorded: ann 3 + 3 (timeout, then kick), cy 1 + 1 + 1 (timeout at the third)
    assert report.strike_steps_before == {"3:timeout": 2, "6:kick": 1, "10:ban": 0}
    # candidate: ann unchanged (still reviewed, still removed); cy acted on, 2 + 2 + 2
    assert report.strike_steps_after == {"3:timeout": 2, "6:kick": 2, "10:ban": 0}
    [cy] = report.strike_members
    assert cy.member == "cy"
    assert (cy.points_before, cy.points_after) == (3, 6)
    assert cy.steps_before == ["3:timeout"]
    assert cy.steps_after == ["3:timeout", "6:kick"]
    assert report.actions_after == {"open_case": 9 - 2, "warn": 3}
    assert report.routes_by_category_before == {
        "hate": {"allow": 0, "review": 6, "escalate": 0, "act": 0},
        "toxicity": {"allow": 0, "review": 3, "escalate": 0, "act": 0},
    }
    assert report.routes_by_category_after == {
        "hate": {"allow": 0, "review": 2, "escalate": 2, "act": 0},
        "none": {"allow": 2, "review": 0, "escalate": 0, "act": 0},
        "toxicity": {"allow": 0, "review": 0, "escalate": 0, "act": 3},
    }


async def test_frontier_calls_priced_per_call(
    recorded: ReviewHarness, settings: Settings, tmp_path: Path
) -> None:
    # output tokens only: each call costs OUTPUT_TOKENS * 2 / 1,000,000
    output_only = settings.model_copy(
        update={"frontier_price_input": 0.0, "frontier_price_output": 2.0}
    )
    report = await backtest(recorded, output_only, tmp_path)
    assert report.frontier_calls == 2  # dee's and eve's severe hate
    assert report.frontier_cost == pytest.approx(2 * OUTPUT_TOKENS * 2.0 / 1_000_000)
    assert report.frontier_currency == "USD"

    # the input tokens of the prompt count too
    priced = settings.model_copy(update={"frontier_price_input": 3.0, "frontier_price_output": 2.0})
    assert (await backtest(recorded, priced, tmp_path)).frontier_cost > report.frontier_cost


async def test_the_plot_draws_the_reports_counts(
    recorded: ReviewHarness, settings: Settings, tmp_path: Path
) -> None:
    report = await backtest(recorded, settings, tmp_path)
    fig = plots.backtest_figure(
        report.routes_by_category_before, report.routes_by_category_after, title="t"
    )
    drawn = {ax.get_title(): ax for ax in fig.axes if ax.get_visible()}
    assert set(drawn) == {"hate", "none", "toxicity"}
    for category, ax in drawn.items():
        routes = [tick.get_text() for tick in ax.get_xticklabels()]
        assert routes == ["allow", "review", "escalate", "act"]
        recorded_bars, candidate_bars = ax.containers
        assert recorded_bars.get_label() == "recorded"
        for bars, counts in (
            (recorded_bars, report.routes_by_category_before),
            (candidate_bars, report.routes_by_category_after),
        ):
            expected = [counts.get(category, {}).get(r, 0) for r in routes]
            assert [bar.get_height() for bar in bars] == expected
    assert [b.get_height() for b in drawn["toxicity"].containers[1]] == [0, 0, 0, 3]


async def test_the_cli_writes_the_png_or_says_why_not(
    recorded: ReviewHarness, settings: Settings, tmp_path: Path
) -> None:
    candidate = str(candidate_file(tmp_path))
    out = tmp_path / "routes.png"
    args = ("--policy", candidate, "--workspace", "console:T1", "--json", "--plot")
    code, stdout, err = await _cli(settings, tmp_path, *args, str(out))
    assert code == 0, err
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert json.loads(stdout)["n"] == len(SCORES)

    code, _, err = await _cli(settings, tmp_path, *args, str(tmp_path / "missing" / "x.png"))
    assert code == 2
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert "--plot" in lines[0]
    assert "x.png" in lines[0]
