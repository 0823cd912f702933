"""``--plot`` of the eval commands and the progress bars of long commands, as an operator runs
them: the PNG is drawn with the policy's thresholds marked, standard output stays the JSON
other tools parse, and the bar appears on a terminal only."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from bot import plots
from bot.classifiers.dataset import read_rows
from bot.faq.evaluation import FaqRow
from bot.faq.matcher import FaqCandidate, FaqDecision
from bot.policy import Policy
from tests.conftest import ROOT

TINY = ROOT / "tests" / "fixtures" / "eval_tiny.jsonl"
FAQ = ROOT / "policies" / "faq.yaml"
PNG = b"\x89PNG\r\n\x1a\n"
TERMINAL = {"TTY_INTERACTIVE": "1", "TTY_COMPATIBLE": "1"}  # rich draws as on a terminal


def _modtriage(
    *args: str, tmp_path: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("MODTRIAGE_", "TTY_"))} | {
        "MODTRIAGE_DATA_DIR": str(tmp_path / "data"),
        "COLUMNS": "100",
    }
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        capture_output=True,
        text=True,
        env=environ | (env or {}),
        cwd=tmp_path,
        timeout=240,
        check=False,
    )


def test_curve_by_hand() -> None:
    precision, recall = plots.threshold_curve(
        [True, False, True, False], [0.9, 0.8, 0.4, 0.1], np.array([0.0, 0.5, 0.85, 0.95])
    )
    # t=0: all four predicted, two right; t=.5: .9 and .8; t=.85: .9 alone; t=.95: none
    assert precision.tolist() == [0.5, 0.5, 1.0, 1.0]
    assert recall.tolist() == [1.0, 0.5, 0.5, 0.0]


def test_moderation_panels_mark_the_policys_thresholds(default_policy: Policy) -> None:
    rows = read_rows(TINY)
    scores = [{"hate": 0.97}, {"hate": 0.55}, {"hate": 0.2, "toxicity": 0.65}, {}, {}, {}]
    fig = plots.moderation_figure(rows, scores, default_policy, title="tiny")
    drawn = {ax.get_title(): ax for ax in fig.axes if ax.get_visible()}
    assert set(drawn) == {"hate (2 positive)", "spam (1 positive)", "toxicity (1 positive)"}
    for title, ax in drawn.items():
        bands = default_policy.thresholds(title.split()[0])
        lines = {line.get_label(): line.get_xdata() for line in ax.get_lines()}
        assert list(lines[f"review {bands.review}"]) == [bands.review, bands.review]
        assert list(lines[f"act {bands.act}"]) == [bands.act, bands.act]


def test_faq_curve_leaves_precision_undrawn_where_nothing_is_answered() -> None:
    rows = [FaqRow(text="q1", faq="a"), FaqRow(text="q2", faq=None)]
    decisions = [
        FaqDecision(
            candidates=(FaqCandidate(faq_id="a", similarity=0.8, confidence=0.9),), reason="hand"
        ),
        FaqDecision(
            candidates=(FaqCandidate(faq_id="a", similarity=0.6, confidence=0.9),), reason="hand"
        ),
    ]
    fig = plots.faq_figure(rows, decisions, min_similarity=0.7, min_confidence=0.5, title="t")
    (ax,) = fig.axes
    lines = {line.get_label(): line for line in ax.get_lines()}
    floors = list(lines["answered precision"].get_xdata())
    precision = lines["answered precision"].get_ydata()
    assert precision[floors.index(0.5)] == 0.5  # both answered, one right
    assert precision[floors.index(0.7)] == 1.0  # q1 alone
    assert np.isnan(precision[floors.index(0.9)])  # nothing answered: no point, not zero
    assert list(lines["in use 0.700"].get_xdata()) == [0.7, 0.7]


def test_eval_moderation_plot_keeps_stdout_json_and_shows_a_bar(tmp_path: Path) -> None:
    out = tmp_path / "curve.png"
    run = _modtriage(
        "eval", "moderation", str(TINY), "--json", "--plot", str(out),
        tmp_path=tmp_path, env=TERMINAL,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    report = json.loads(run.stdout)  # exactly one JSON object: bar and notice went to stderr
    assert report["n"] == 6
    assert out.read_bytes().startswith(PNG)
    assert "model" in run.stderr
    assert "6/6" in run.stderr
    assert f"wrote {out}" in run.stderr.replace("\n", "")


def test_no_bar_when_stderr_is_not_a_terminal(tmp_path: Path) -> None:
    run = _modtriage("eval", "moderation", str(TINY), "--backend", "rules", tmp_path=tmp_path)
    assert run.returncode == 0, run.stderr
    assert "6/6" not in run.stderr
    assert "\x1b[" not in run.stderr


def test_eval_faq_plot(tmp_path: Path) -> None:
    data = tmp_path / "rows.jsonl"
    rows = [
        {"text": "which interpreter releases can I run this on", "faq": "python_versions"},
        {"text": "what's the best pizza in town?", "faq": None},
    ]
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = tmp_path / "faq.png"
    run = _modtriage(
        "eval", "faq", str(data), "--faqs", str(FAQ), "--json", "--plot", str(out),
        tmp_path=tmp_path,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout)["n"] == 2
    assert out.read_bytes().startswith(PNG)


@pytest.mark.parametrize("command", ["moderation", "faq"])
def test_plot_into_a_missing_folder_is_one_line_and_exit_2(tmp_path: Path, command: str) -> None:
    out = tmp_path / "no" / "such" / "folder" / "curve.png"
    data = TINY if command == "moderation" else tmp_path / "rows.jsonl"
    if command == "faq":
        data.write_text(json.dumps({"text": "what's the best pizza in town?", "faq": None}) + "\n")
    extra = ["--faqs", str(FAQ)] if command == "faq" else ["--backend", "rules"]
    run = _modtriage("eval", command, str(data), *extra, "--plot", str(out), tmp_path=tmp_path)
    assert run.returncode == 2
    assert "Traceback" not in run.stderr
    lines = [line for line in run.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, run.stderr
    assert "--plot" in lines[0]
    assert "curve.png" in lines[0]
