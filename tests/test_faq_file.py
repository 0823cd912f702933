"""FAQ files: a mistake names the file, the entry and the fix; `faq add` keeps the file."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from bot.errors import PolicyError
from bot.faq.entries import FaqEntry, append_entry, load_faqs
from bot.policy import load_policy
from tests.conftest import DEFAULT_POLICY, ROOT

GOOD = """\
# our FAQ
faqs:
  - id: install
    questions: ["how do I install it?", "pip install fails"]
    answer: "pip install ourproject"
"""


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "faq.yaml"
    path.write_text(text)
    return path


def test_sample_faq_loads_and_default_policy_points_at_it() -> None:
    policy = load_policy(DEFAULT_POLICY)
    assert policy.faq.file == ROOT / "policies" / "faq.yaml"
    faqs = load_faqs(policy.faq.file)
    assert len(faqs.faqs) >= 10
    assert all(len(entry.questions) >= 5 and entry.answer for entry in faqs.faqs)
    assert len(faqs.version) == 12


@pytest.mark.parametrize(
    ("text", "key", "problem", "fix"),
    [
        pytest.param(
            GOOD + '  - id: install\n    questions: ["setup?"]\n    answer: "x"\n',
            "faqs[1] (id 'install').id",
            "duplicate id 'install' (also faqs[0] (id 'install'))",
            "give each entry its own id",
            id="duplicate-id",
        ),
        pytest.param(
            'faqs:\n  - id: docs\n    questions: ["where are the docs?"]\n    answer: "  "\n',
            "faqs[0] (id 'docs').answer",
            "the answer is empty",
            "write the approved answer text",
            id="empty-answer",
        ),
        pytest.param(
            "faqs:\n  - id: docs\n    questions: []\n    answer: see docs\n",
            "faqs[0] (id 'docs').questions",
            "at least 1 item",
            "write at least one example question",
            id="no-questions",
        ),
        pytest.param(
            "faqs:\n  - id: docs\n    answer: see docs\n",
            "faqs[0] (id 'docs').questions",
            "Field required",
            "add questions",
            id="missing-questions",
        ),
        pytest.param(
            'faqs:\n  - id: docs\n    questions: ["docs?"]\n    answer: a\n    anwser: b\n',
            "faqs[0] (id 'docs').anwser",
            "Extra inputs",
            "remove this key or fix its spelling",
            id="misspelt-key",
        ),
        pytest.param(
            'faqs:\n  - id: reset password\n    questions: ["reset?"]\n    answer: a\n',
            "faqs[0] (id 'reset password').id",
            "an id has spaces or is too long",
            "without spaces, e.g. reset_password",
            id="id-with-space",
        ),
        pytest.param(
            GOOD + '  - id: pip\n    questions: ["How do I  install it?"]\n    answer: "x"\n',
            "faqs[1] (id 'pip').questions",
            "is also a question of 'install'",
            "keep the question in the one entry",
            id="question-in-two-entries",
        ),
        pytest.param(
            "faqs:\n  - id: [oops\n",
            "line 3, column 1",
            "is not valid YAML",
            "fix the YAML syntax",
            id="not-yaml",
        ),
        pytest.param(
            "questions: [a]\n", "(top level)", "has no 'faqs' list", "faqs:", id="no-faqs"
        ),
    ],
)
def test_a_bad_faq_file_names_file_entry_and_fix(
    tmp_path: Path, text: str, key: str, problem: str, fix: str
) -> None:
    path = _write(tmp_path, text)
    with pytest.raises(PolicyError) as caught:
        load_faqs(path)
    error = caught.value
    assert error.file == str(path)
    assert error.key == key
    assert problem in error.problem
    assert fix in error.fix


def test_a_missing_faq_file_says_where_it_was_looked_for(tmp_path: Path) -> None:
    with pytest.raises(PolicyError, match=r"missing\.yaml: \(file\): cannot read it"):
        load_faqs(tmp_path / "missing.yaml")


def test_add_appends_keeps_comments_and_refuses_a_taken_id(tmp_path: Path) -> None:
    path = _write(tmp_path, GOOD)
    entry = FaqEntry(id="docs", questions=("where are the docs?",), answer="docs.example.org")
    updated = append_entry(path, entry)
    assert [e.id for e in updated.faqs] == ["install", "docs"]
    assert path.read_text().startswith("# our FAQ\nfaqs:\n  - id: install")
    assert load_faqs(path).entry("docs") == entry
    before = path.read_text()
    with pytest.raises(PolicyError, match="is taken"):
        append_entry(path, entry)
    assert path.read_text() == before


def test_add_to_an_empty_faq(tmp_path: Path) -> None:
    path = _write(tmp_path, "faqs: []\n")
    entry = FaqEntry(id="docs", questions=("docs?", "manual?"), answer="docs.example.org")
    assert append_entry(path, entry).faqs == (entry,)


def test_entries_added_at_the_same_time_are_all_kept(tmp_path: Path) -> None:
    path = _write(tmp_path, GOOD)
    entries = [
        FaqEntry(id=f"entry_{n}", questions=(f"question number {n}?",), answer=f"answer {n}")
        for n in range(8)
    ]
    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(lambda e: append_entry(path, e), entries))
    assert sorted(e.id for e in load_faqs(path).faqs) == sorted(
        ["install", *(e.id for e in entries)]
    )
