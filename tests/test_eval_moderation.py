"""``modtriage eval moderation``: the JSON other tools parse, and its arithmetic by hand."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from bot.classifiers.commands import eval_app
from bot.classifiers.dataset import read_rows
from bot.classifiers.evaluation import evaluate
from bot.errors import ConfigError
from bot.policy import Policy, Thresholds

TINY = Path(__file__).parent / "fixtures" / "eval_tiny.jsonl"
KEYS = {
    "dataset",
    "n",
    "flagged",
    "categories",
    "functionalities",
    "routing",
    "throughput_msgs_per_s",
    "latency_ms",
    "judge",
    "reference",
}

# The arithmetic below holds for these bands (not the default policy's, which are tuned);
# escalation is off, so escalate counts as review (as decide() does).
BANDS = {
    "hate": Thresholds(review=0.5, escalate=0.8, act=0.95),
    "toxicity": Thresholds(review=0.6, escalate=0.85, act=0.97),
    "spam": Thresholds(review=0.6, escalate=0.85, act=0.985),
}
SCORES = [
    {"hate": 0.97},  # flagged, act: TP
    {"hate": 0.55},  # clean, review: FP
    {"hate": 0.2, "toxicity": 0.65},  # flagged, review via toxicity: TP (hate alone: FN)
    {"spam": 0.1, "hate": 0.99},  # clean, allow: hate is not annotated here, so ignored: TN
    {"spam": 0.3},  # flagged, allow: FN
    {"toxicity": 0.85},  # clean, escalate -> review: FP
]


def test_hand_checked_arithmetic(default_policy: Policy) -> None:
    categories = {
        name: category.model_copy(update={"thresholds": BANDS.get(name, category.thresholds)})
        for name, category in default_policy.categories.items()
    }
    policy = default_policy.model_copy(update={"categories": categories})
    rows = read_rows(TINY)
    report = evaluate(rows, SCORES, policy, dataset="tiny", seconds=2.0, latencies_ms=[10.0] * 6)
    assert report.n == 6
    assert report.flagged.precision == pytest.approx(2 / 4)
    assert report.flagged.recall == pytest.approx(2 / 3)
    assert report.flagged.f1 == pytest.approx(2 * 0.5 * (2 / 3) / (0.5 + 2 / 3))
    # ranked by max annotated score: .97 T, .85 F, .65 T, .55 F, .30 T, .10 F
    assert report.flagged.auprc == pytest.approx((1 + 2 / 3 + 3 / 5) / 3)
    assert report.routing == pytest.approx(
        {"allow": 2 / 6, "act": 1 / 6, "review": 3 / 6, "escalate": 0.0}
    )
    hate = report.categories["hate"]
    assert (hate.n_pos, hate.precision, hate.recall, hate.f1) == (2, 0.5, 0.5, 0.5)
    assert hate.auprc == pytest.approx((1 + 2 / 3) / 2)
    toxicity = report.categories["toxicity"]
    assert (toxicity.n_pos, toxicity.precision, toxicity.recall) == (1, 0.5, 1.0)
    assert toxicity.auprc == pytest.approx(0.5)
    spam = report.categories["spam"]
    assert (spam.n_pos, spam.precision, spam.recall, spam.f1, spam.auprc) == (1, 0, 0, 0, 1.0)
    assert report.functionalities["f1"].model_dump() == {"n": 2, "accuracy": 0.0}
    assert report.functionalities["f2"].model_dump() == {"n": 1, "accuracy": 1.0}
    assert report.throughput_msgs_per_s == pytest.approx(3.0)
    assert report.latency_ms.p50 == pytest.approx(10.0)


def _cli() -> typer.Typer:
    app = typer.Typer()
    app.add_typer(eval_app, name="eval")
    return app


def test_json_has_exactly_the_published_keys(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        _cli(),
        ["eval", "moderation", str(TINY), "--backend", "rules", "--json"],
        env={"MODTRIAGE_DATA_DIR": str(tmp_path)},
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert set(report) == KEYS
    assert set(report["flagged"]) == {"precision", "recall", "f1", "auprc"}
    assert set(report["latency_ms"]) == {"p50", "p99"}
    assert set(report["routing"]) == {"allow", "act", "review", "escalate"}
    assert set(report["categories"]["hate"]) == {"n_pos", "precision", "recall", "f1", "auprc"}
    # the rules-only backend scores nothing: every row is allowed
    assert report["n"] == 6
    assert report["routing"]["allow"] == 1.0
    assert report["flagged"]["recall"] == 0.0
    assert set(report["judge"]) == {"precision", "recall", "f1", "routing", "decided_by"}


def test_the_whole_judge_beside_the_model_alone(tmp_path: Path) -> None:
    """Rules catch what a model alone misses: a deny-listed slur and a scam link."""
    rows = tmp_path / "rules.jsonl"
    rows.write_text(
        "\n".join(
            json.dumps({"text": text, "labels": labels, "source": "hand"})
            for text, labels in [
                ("shut up you f4gg0t", {"hate": 1}),
                ("free nitro at discord-gift.example.ru", {"spam": 1}),
                ("see you at the meetup tonight", {"hate": 0, "spam": 0}),
                ("what time does the stream start?", {"spam": 0}),
            ]
        )
        + "\n"
    )
    result = CliRunner().invoke(
        _cli(),
        ["eval", "moderation", str(rows), "--backend", "rules", "--json"],
        env={"MODTRIAGE_DATA_DIR": str(tmp_path)},
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["flagged"]["recall"] == 0.0  # the model alone: rules-only scores nothing
    judge = report["judge"]
    assert (judge["precision"], judge["recall"]) == (1.0, 1.0)
    assert judge["routing"]["allow"] == 0.5
    assert judge["decided_by"] == {"rules": 1.0}


def test_embedded_backend_through_the_cli(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        _cli(),
        ["eval", "moderation", str(TINY), "--backend", "embedded", "--json"],
        env={"MODTRIAGE_DATA_DIR": str(tmp_path)},
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert set(report) == KEYS
    assert report["n"] == 6
    assert report["throughput_msgs_per_s"] > 0


def test_readable_table_without_json(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        _cli(),
        ["eval", "moderation", str(TINY), "--backend", "rules"],
        env={"MODTRIAGE_DATA_DIR": str(tmp_path), "COLUMNS": "120"},
    )
    assert result.exit_code == 0, result.output
    assert "per category" in result.output
    assert "routing: allow 100.0%" in result.output


def test_a_bad_row_is_named_by_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"text": "ok", "labels": {"hate": 0}, "source": "s"}\n{"text": 3}\n')
    with pytest.raises(ConfigError, match=r"bad.jsonl:2"):
        read_rows(bad)
    result = CliRunner().invoke(
        _cli(), ["eval", "moderation", str(bad), "--backend", "rules", "--json"]
    )
    assert result.exit_code == 2
    assert "bad.jsonl:2" in result.output


LOSO = {
    "finetuned": {
        "per_source": {
            "davidson": {"sources": ["davidson"], "f1": 0.81},
            "sms_spam": {"sources": ["sms-spam"], "f1": 0.55},
        }
    },
    "frozen": {"per_source": {"davidson": {"f1": 0.62}}},
}


def test_a_file_from_a_training_source_names_its_leave_source_out_figure() -> None:
    from bot.classifiers.dataset import ModerationRow
    from bot.classifiers.evaluation import source_reference

    rows = [ModerationRow(text=f"t{i}", labels={"spam": 0}, source="sms-spam") for i in range(3)]
    found = source_reference(rows, LOSO)
    assert found is not None
    assert (found.file, found.out_of_source_f1, found.frozen_out_of_source_f1) == (
        "sms_spam",
        0.55,
        None,
    )
    davidson = [ModerationRow(text="t", labels={"hate": 1}, source="davidson")]
    assert source_reference(davidson, LOSO).frozen_out_of_source_f1 == 0.62  # type: ignore[union-attr]
    unseen = [ModerationRow(text="t", labels={"hate": 1}, source="a-new-forum")]
    assert source_reference(unseen, LOSO) is None
