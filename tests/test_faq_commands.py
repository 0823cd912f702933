"""The FAQ commands as moderators and tools run them, mounted as bot/faq/commands.py says."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from bot.faq import commands
from tests.conftest import ROOT

SAMPLE = ROOT / "policies" / "faq.yaml"
KEYS = [
    "dataset", "n", "in_scope_accuracy", "answered_precision", "in_scope_coverage",
    "oos_recall", "throughput_msgs_per_s", "latency_ms", "matcher",
]  # fmt: skip


@pytest.fixture
def cli() -> typer.Typer:
    app = typer.Typer()
    app.add_typer(commands.app, name="faq")
    eval_app = typer.Typer()
    eval_app.command("faq")(commands.eval_faq)
    app.add_typer(eval_app, name="eval")
    return app


def test_eval_faq_json_is_exactly_the_documented_object(cli: typer.Typer, tmp_path: Path) -> None:
    rows = [
        {"text": "which interpreter releases can I run this on", "faq": "python_versions"},
        {"text": "the setup step fails on ubuntu, what do I need?", "faq": "install"},
        {"text": "the setup step fails on ubuntu, what do I need?", "faq": "docs"},
        {"text": "how do I change the default port of the dev server?", "faq": None},
        {"text": "what's the best pizza in town?", "faq": None},
    ]
    data = tmp_path / "tiny.jsonl"
    data.write_text("".join(json.dumps({**r, "source": "hand"}) + "\n" for r in rows))
    result = CliRunner().invoke(cli, ["eval", "faq", str(data), "--faqs", str(SAMPLE), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert list(report) == KEYS
    assert list(report["latency_ms"]) == ["p50", "p99"]
    assert report["dataset"] == "tiny.jsonl"
    assert report["n"] == 5
    # top-1: python_versions right, install right, install for the "docs" row wrong
    assert report["in_scope_accuracy"] == pytest.approx(2 / 3, abs=1e-4)
    # answers: the three in-scope rows are answered (two right); both null rows handed off
    assert report["answered_precision"] == pytest.approx(2 / 3, abs=1e-4)
    assert report["in_scope_coverage"] == pytest.approx(2 / 3, abs=1e-4)
    assert report["oos_recall"] == 1.0
    assert report["throughput_msgs_per_s"] > 0
    assert report["matcher"].startswith("closed-form:all-minilm-l6-v2-int8@")  # none trained


def test_faq_test_shows_top_three_scores_and_the_decision(cli: typer.Typer) -> None:
    question = "which interpreter releases can I run this on"
    result = CliRunner().invoke(cli, ["faq", "test", question, "--faqs", str(SAMPLE), "--json"])
    assert result.exit_code == 0, result.output
    shown = json.loads(result.stdout)
    assert shown["looks_like_question"] is True
    assert shown["candidates"][0]["faq_id"] == "python_versions"
    assert len(shown["candidates"]) == 3
    assert all({"similarity", "confidence"} <= set(c) for c in shown["candidates"])
    assert shown["faq_id"] == "python_versions"
    assert shown["reason"].startswith("answer python_versions")


def test_faq_add_then_list(cli: typer.Typer, tmp_path: Path) -> None:
    faqs = tmp_path / "faq.yaml"
    faqs.write_text(SAMPLE.read_text())
    added = CliRunner().invoke(
        cli,
        ["faq", "add", "code_of_conduct", "-q", "where is the code of conduct?",
         "-q", "what are the rules here?", "--answer", "See #rules.", "--faqs", str(faqs)],
    )  # fmt: skip
    assert added.exit_code == 0, added.output
    listed = CliRunner().invoke(cli, ["faq", "list", "--faqs", str(faqs), "--json"])
    assert listed.exit_code == 0, listed.output
    entries = json.loads(listed.stdout)["faqs"]
    assert entries[-1] == {
        "id": "code_of_conduct",
        "questions": ["where is the code of conduct?", "what are the rules here?"],
        "answer": "See #rules.",
    }


def test_a_bad_faq_file_is_a_clear_error_not_a_traceback(cli: typer.Typer, tmp_path: Path) -> None:
    faqs = tmp_path / "faq.yaml"
    faqs.write_text("faqs:\n  - id: docs\n    questions: ['docs?']\n    answer: ''\n")
    result = CliRunner().invoke(cli, ["faq", "list", "--faqs", str(faqs)])
    assert result.exit_code == 2
    said = " ".join(result.output.split())
    assert "faqs[0] (id 'docs').answer: the answer is empty" in said
    assert "Fix: write the approved answer text" in said
