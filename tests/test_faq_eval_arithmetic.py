"""`modtriage eval faq` arithmetic on a tiny hand-checked file (no model needed)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.errors import ConfigError
from bot.faq.evaluation import read_faq_rows, score

TINY = """\
{"text": "how do I install it", "faq": "install", "source": "t"}
{"text": "which python versions", "faq": "python_versions", "source": "t"}
{"text": "where are the docs", "faq": "docs", "source": "t"}
{"text": "is it free for companies", "faq": "license", "source": "t"}

{"text": "best pizza in town?", "faq": null, "source": "t"}
{"text": "how do I configure logging", "faq": null, "source": "t"}
"""


def test_scores_on_a_hand_checked_file(tmp_path: Path) -> None:
    path = tmp_path / "tiny.jsonl"
    path.write_text(TINY)
    rows = read_faq_rows(path)
    assert len(rows) == 6
    # top-1 regardless of thresholds: right, right, wrong, right
    top = ["install", "python_versions", "install", "license", "docs", "docs"]
    # answered: right, handed off, wrong entry, right; pizza handed off, logging answered
    answered = ["install", None, "install", "license", None, "docs"]
    accuracy, precision, coverage, oos = score(rows, top, answered)
    assert accuracy == pytest.approx(3 / 4)  # top-1 right on 3 of 4 in-scope rows
    assert precision == pytest.approx(2 / 4)  # 4 answers: 2 right, 1 wrong entry, 1 to a null row
    assert coverage == pytest.approx(2 / 4)  # 2 right answers / 4 in-scope rows
    assert oos == pytest.approx(1 / 2)  # 1 of 2 null rows left unanswered


def test_no_answers_is_zero_precision_not_a_crash(tmp_path: Path) -> None:
    path = tmp_path / "tiny.jsonl"
    path.write_text(TINY)
    rows = read_faq_rows(path)
    assert score(rows, [None] * 6, [None] * 6) == (0.0, 0.0, 0.0, 1.0)


def test_a_bad_row_names_its_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text('{"text": "a", "faq": null}\n{"faq": "install"}\n')
    with pytest.raises(ConfigError, match=r"bad\.jsonl:2: missing field 'text' \(each line needs"):
        read_faq_rows(path)
