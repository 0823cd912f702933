"""The escalation cost estimate over labelled rows: share escalated, cost against all-frontier."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.classifiers.dataset import split_of
from bot.escalation.commands import app
from bot.escalation.estimate import Row, estimate_escalation, validation_rows
from bot.policy import Policy
from bot.settings import Settings
from tests.small_model import ScoresByPhrase

pytestmark = pytest.mark.frontier


def write_rows(folder: Path, texts: list[str]) -> Path:
    (folder / "moderation").mkdir(parents=True)
    with (folder / "moderation" / "chat.jsonl").open("w") as out:
        for text in texts:
            out.write(json.dumps({"text": text, "labels": {"toxicity": 0}, "source": "t"}) + "\n")
    return folder


async def test_only_the_uncertain_band_is_priced_and_repeats_are_cached(
    default_policy: Policy, settings: Settings
) -> None:
    rows = [Row(text=t, source="chat") for t in [
        "good morning", "nice release", "you're such a genius, really", "thanks all",
        "shut up you f4gg0t", "lunch?", "you're such a genius, really", "see you",
    ]]  # fmt: skip
    # harassment's escalate band is 0.8 .. 0.95 in the default policy (toxicity has none)
    small = ScoresByPhrase({"genius": {"harassment": 0.9}, "lunch": {"harassment": 0.7}})

    report = await estimate_escalation(
        rows=rows, classifier=small, policy=default_policy, settings=settings
    )

    assert report.rows == 8
    assert report.escalated == 2
    assert report.escalated_share == 0.25
    assert report.escalated_by_category == {"harassment": 2}
    assert report.routes == {"allow": 4, "escalate": 2, "act": 1, "review": 1}
    # Different context before each repeat: two distinct prompts, no cache hit here.
    assert report.cache_hits == 0
    assert report.cost_per_1000_all_frontier > report.cost_per_1000_escalating > 0
    assert report.ratio == pytest.approx(
        report.cost_per_1000_all_frontier / report.cost_per_1000_escalating
    )


def test_validation_rows_are_the_held_out_split_of_the_embedded_model(tmp_path: Path) -> None:
    texts = [f"message number {i}" for i in range(400)]
    data = write_rows(tmp_path, texts)
    chosen = [r.text for r in validation_rows(data)]
    assert chosen == [t for t in texts if split_of(t) == "val"]
    assert 30 < len(chosen) < 100


def test_the_estimate_command_prints_json(tmp_path: Path) -> None:
    texts = [f"hello {i}" for i in range(300)]
    data = write_rows(tmp_path, texts)
    result = CliRunner().invoke(
        app, ["estimate", "--data", str(data), "--classifier", "rules", "--json"]
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["rows"] == sum(split_of(t) == "val" for t in texts)
    assert report["escalated"] == 0
    assert report["escalated_share_of_clean"] == 0.0  # every row is labelled clean
    assert report["escalated_share_of_flagged"] is None
    assert report["ratio"] is None
    assert report["cost_per_1000_all_frontier"] > 0


def test_the_estimate_command_refuses_a_missing_data_folder(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["estimate", "--data", str(tmp_path / "nope")])
    assert result.exit_code == 2
    assert result.output == (
        f"error: --data {tmp_path / 'nope'} does not exist: the labelled data is the public "
        "sets listed in bot/classifiers/DATA_CARD.md, one moderation/<source>.jsonl each "
        "(DESIGN.md rows), kept outside the repo; pass --data <the folder that holds "
        "moderation/>\n"
    )
