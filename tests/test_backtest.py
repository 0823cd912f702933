"""``modtriage backtest``: a community's recorded history judged again under a candidate policy,
counted by hand, compared with what its moderators decided, without running the model again."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml

from bot.classification import Classification
from bot.connection import Redis
from bot.insights.backtest import Backtest, read_decisions, read_history
from bot.metrics import Metrics
from bot.policy import Policy, load_policy
from bot.review.decision import Decision
from bot.settings import Settings
from bot.tenant import Tenant
from tests.conftest import DEFAULT_POLICY
from tests.harness import ChatHarness
from tests.review_harness import Clock, FixedScores, ReviewHarness, moderator

pytestmark = [pytest.mark.insights, pytest.mark.review]

# 500 messages, each by its own member: 50 clear hate (0.6), 50 borderline (0.4),
# 100 rude (toxicity 0.35: review under both policies), 300 ordinary.
SCORES = {
    **{f"clear {n}": {"hate": 0.6} for n in range(50)},
    **{f"borderline {n}": {"hate": 0.4} for n in range(50)},
    **{f"rude {n}": {"toxicity": 0.35} for n in range(100)},
}
TEXTS = [*SCORES, *(f"ordinary {n}" for n in range(300))]


class CountingScores(FixedScores):
    """The same model, counting the texts it is asked about."""

    def __init__(self, scores: dict[str, dict[str, float]]) -> None:
        super().__init__(scores)
        self.seen = 0

    async def classify(self, texts: Sequence[str]) -> list[Classification]:
        self.seen += len(texts)
        return await super().classify(texts)


def _candidate(tmp_path: Path, *, hate_review: float) -> Path:
    """The default policy with hate's review threshold raised (a thresholds-only change)."""
    raw = yaml.safe_load(DEFAULT_POLICY.read_text())
    raw["name"] = "candidate"
    raw["categories"]["hate"]["thresholds"]["review"] = hate_review
    raw["faq"]["enabled"] = False
    raw["faq"].pop("file", None)
    path = tmp_path / "candidate.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path


@pytest.fixture
async def recorded(
    redis: Redis, settings: Settings, default_policy: Policy, metrics: Metrics
) -> ReviewHarness:
    """The history: every message decided by the worker, then the moderators' calls on the
    hate cases: the 50 clear ones removed, the 50 borderline ones dismissed."""
    chat = ChatHarness(
        redis=redis, settings=settings, policy=default_policy, classifier=FixedScores(SCORES),
        metrics=metrics,
    )  # fmt: skip
    review = ReviewHarness(chat=chat, clock=Clock(datetime(2026, 11, 27, 12, 0, tzinfo=UTC)))
    said = [chat.message(text, user=f"member{n}") for n, text in enumerate(TEXTS)]
    for message in said:
        await chat.ingest.publish(message)
    await chat.worker.ensure_group()
    while await chat.worker.step():
        pass
    await review.settle()
    for message in said[:100]:
        case_id = await review.service.store.case_for_message(message.key)
        assert case_id is not None
        kind = "remove" if message.text.startswith("clear") else "dismiss"
        await review.service.decide(moderator(), case_id, Decision(kind=kind))
    return review


async def test_a_thresholds_change_counted_by_hand_without_the_model(
    recorded: ReviewHarness, settings: Settings, tmp_path: Path
) -> None:
    chat = recorded.chat
    tenant = Tenant(platform="console", workspace="T1")
    history = await read_history(chat.redis, chat.streams, tenant)
    assert len(history) == 500
    decisions = await read_decisions(chat.redis, chat.streams, tenant)
    assert len(decisions) == 100
    model = CountingScores(SCORES)
    candidate = load_policy(_candidate(tmp_path, hate_review=0.5))

    report = await Backtest(settings=settings, classifier=model).run(
        history, candidate, tenant=tenant, decisions=decisions
    )

    assert report.n == 500
    assert report.routes_before == {"allow": 300, "review": 200, "escalate": 0, "act": 0}
    assert report.routes_after == {"allow": 350, "review": 150, "escalate": 0, "act": 0}
    assert report.changed == 50
    assert report.transitions == {"review->allow": 50}
    assert {e.text.split()[0] for e in report.examples} == {"borderline"}
    assert len(report.examples) == 10
    assert (report.cases_before, report.cases_after) == (200, 150)
    assert report.actions_before == {"open_case": 200}
    assert report.actions_after == {"open_case": 150}
    hate = report.moderators["hate"]
    assert (hate.labelled, hate.precision, hate.recall) == (100, 1.0, 1.0)
    assert report.model_calls == 0
    assert model.seen == 0
    assert report.recorded_versions == [chat.policy.version]
    assert report.candidate == candidate.version


async def test_a_new_model_is_asked_only_about_what_it_has_not_scored(
    recorded: ReviewHarness, settings: Settings, tmp_path: Path
) -> None:
    chat = recorded.chat
    tenant = Tenant(platform="console", workspace="T1")
    history = await read_history(chat.redis, chat.streams, tenant)

    class NewModel(CountingScores):
        name = "fixed-scores-v2"

    model = NewModel({})
    report = await Backtest(settings=settings, classifier=model).run(
        history, load_policy(DEFAULT_POLICY), tenant=tenant, decisions={}
    )
    assert report.model_calls == model.seen == 500
    assert report.routes_after["allow"] == 500  # the new model finds nothing


async def _cli(settings: Settings, tmp_path: Path, *args: str) -> tuple[int, str, str]:
    env = {
        **os.environ,
        "REDIS_URL": settings.redis_url or "",
        "MODTRIAGE_NAMESPACE": settings.namespace,
        "MODTRIAGE_CLASSIFIER": "rules",
        "MODTRIAGE_DATA_DIR": str(tmp_path / "data"),
    }
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "backtest", *args, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(proc.communicate(), timeout=120)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


async def test_the_cli_prints_the_published_keys(
    recorded: ReviewHarness, settings: Settings, tmp_path: Path
) -> None:
    candidate = str(_candidate(tmp_path, hate_review=0.5))
    code, out, err = await _cli(
        settings, tmp_path, "--policy", candidate, "--workspace", "console:T1", "--json"
    )
    assert code == 0, err
    report = json.loads(out)
    assert set(report) == {
        "tenant", "candidate", "recorded_versions", "n", "since", "routes_before",
        "routes_after", "changed", "transitions", "examples", "actions_before", "actions_after",
        "cases_before", "cases_after", "moderators", "frontier_calls", "model_calls", "seconds",
        "frontier_cost", "frontier_currency", "routes_by_category_before",
        "routes_by_category_after", "strike_steps_before", "strike_steps_after", "strike_members",
    }  # fmt: skip
    assert report["n"] == 500
    # the rules-only model scored none of it, so the recorded scores are not reused
    assert report["model_calls"] == 500
    assert report["routes_after"]["allow"] == 500

    code, out, err = await _cli(
        settings, tmp_path, "--policy", candidate, "--workspace", "console:T1", "--since", "x"
    )
    assert code == 2
    assert "--since" in err
