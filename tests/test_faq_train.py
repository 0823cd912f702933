"""`modtriage faq train` for real: a tiny FAQ fine-tuned for one epoch, then asked.

The matcher is trained once for the module (about half a minute on one core) into a data
directory of its own; each test reads it the way the bot does, by the FAQ file's hash.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.action import Reply
from bot.classifiers.onnx_encoder import STOCK_ENCODER_DIR, OnnxEncoder
from bot.classifiers.rules_only import RulesOnlyClassifier
from bot.cli import app
from bot.connection import Redis
from bot.faq.entries import FaqEntry, append_entry, load_faqs
from bot.metrics import Metrics
from bot.policy import FaqSettings, Policy, load_policy
from bot.settings import Settings
from tests.conftest import DEFAULT_POLICY
from tests.harness import ChatHarness

FAQ = """\
faqs:
  - id: reset_password
    questions:
      - "how do i reset my password?"
      - "i forgot my password"
      - "can't log in, my password doesn't work"
      - "where do i change my password?"
      - "the password reset email never arrived"
    answer: "Use 'Forgot password' on the sign-in page; the link is valid for an hour."
  - id: refund
    questions:
      - "how do i get a refund?"
      - "can i get my money back?"
      - "i want to return my order and be refunded"
      - "what is your refund policy?"
      - "how long do refunds take?"
    answer: "Refunds go back to the card you paid with within 5 working days of the return."
  - id: shipping
    questions:
      - "when will my order arrive?"
      - "how long does delivery take?"
      - "where is my package?"
      - "do you ship internationally?"
      - "my parcel hasn't come yet"
    answer: "Orders ship in 1-2 days; the tracking link is in your confirmation email."
  - id: opening_hours
    questions:
      - "what are your opening hours?"
      - "when is the shop open?"
      - "are you open on sundays?"
      - "what time do you close today?"
      - "is the store open on public holidays?"
    answer: "We are open 9:00-18:00 Monday to Saturday, closed on Sundays and holidays."
"""
#: Covered by reset_password, phrased like none of its examples.
NEW_PHRASING = "the login page keeps rejecting my password, what now?"
#: On topic for a shop, but no entry answers it.
NEAR_MISS = "do you sell gift vouchers?"


def _cli(data_dir: Path, *args: str) -> dict[str, object]:
    result = CliRunner().invoke(app, list(args), env={"MODTRIAGE_DATA_DIR": str(data_dir)})
    assert result.exit_code == 0, result.output
    parsed: dict[str, object] = json.loads(result.stdout.strip().splitlines()[-1])
    return parsed


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, dict[str, object]]:
    """(FAQ file, data directory, what `faq train --json` printed)."""
    root = tmp_path_factory.mktemp("faqtrain")
    faqs = root / "faq.yaml"
    faqs.write_text(FAQ, encoding="utf-8")
    data_dir = root / "data"
    printed = _cli(data_dir, "faq", "train", "--faqs", str(faqs), "--epochs", "1", "--json")
    return faqs, data_dir, printed


def test_train_stores_the_matcher_under_the_files_hash(
    trained: tuple[Path, Path, dict[str, object]],
) -> None:
    faqs, data_dir, printed = trained
    version = load_faqs(faqs).version
    folder = data_dir / "faq-matchers" / version
    assert printed["folder"] == str(folder)
    assert printed["faq_version"] == version
    assert (printed["entries"], printed["questions"]) == (4, 20)
    assert {"model.onnx", "tokenizer.json", "encoder.json", "matcher.json"} <= {
        p.name for p in folder.iterdir()
    }
    calibration = printed["calibration"]
    assert isinstance(calibration, dict)
    assert calibration["in_scope"] > 0
    assert calibration["out_of_scope"] > calibration["in_scope"]  # near misses and chat


def test_a_new_phrasing_is_answered_and_a_near_miss_handed_off(
    trained: tuple[Path, Path, dict[str, object]],
) -> None:
    faqs, data_dir, _ = trained
    covered = _cli(data_dir, "faq", "test", NEW_PHRASING, "--faqs", str(faqs), "--json")
    assert covered["faq_id"] == "reset_password", covered["reason"]
    missed = _cli(data_dir, "faq", "test", NEAR_MISS, "--faqs", str(faqs), "--json")
    assert missed["faq_id"] is None, missed["reason"]
    assert str(missed["reason"]).startswith("handed off")


def test_eval_names_the_trained_matcher_and_an_edited_file_falls_back(
    trained: tuple[Path, Path, dict[str, object]], tmp_path: Path
) -> None:
    faqs, data_dir, _ = trained
    rows = tmp_path / "rows.jsonl"
    rows.write_text(
        json.dumps({"text": NEW_PHRASING, "faq": "reset_password", "source": "hand"})
        + "\n"
        + json.dumps({"text": NEAR_MISS, "faq": None, "source": "hand"})
        + "\n"
    )
    report = _cli(data_dir, "eval", "faq", str(rows), "--faqs", str(faqs), "--json")
    assert report["matcher"] == f"trained:{load_faqs(faqs).version}"
    assert (report["in_scope_coverage"], report["oos_recall"]) == (1.0, 1.0)

    edited = tmp_path / "faq.yaml"
    shutil.copy(faqs, edited)
    added = CliRunner().invoke(
        app,
        ["faq", "add", "gift_cards", "-q", "do you sell gift cards?", "--answer",
         "Yes, at the till.", "--faqs", str(edited)],
        env={"MODTRIAGE_DATA_DIR": str(data_dir)},
    )  # fmt: skip
    assert added.exit_code == 0, added.output
    assert "retraining is due" in added.stdout
    after = _cli(data_dir, "eval", "faq", str(rows), "--faqs", str(edited), "--json")
    assert str(after["matcher"]).startswith("closed-form:all-minilm-l6-v2-int8@")


async def test_the_workers_faq_stage_answers_with_the_trained_matcher(
    trained: tuple[Path, Path, dict[str, object]],
    redis: Redis,
    settings: Settings,
    metrics: Metrics,
    tmp_path: Path,
) -> None:
    shared, data_dir, _ = trained
    faqs = tmp_path / "faq.yaml"  # the same content (so the same trained matcher), its own file
    faqs.write_text(shared.read_text(encoding="utf-8"), encoding="utf-8")
    policy: Policy = load_policy(DEFAULT_POLICY)
    policy = policy.model_copy(update={"faq": FaqSettings(file=faqs)})
    chat = ChatHarness(
        redis=redis,
        settings=settings.model_copy(update={"data_dir": data_dir}),  # nothing else set
        policy=policy,
        classifier=RulesOnlyClassifier(),
        metrics=metrics,
        encoder=OnnxEncoder(model_dir=STOCK_ENCODER_DIR),  # what the worker shares otherwise
    )
    verdict = await chat.say(NEW_PHRASING, user="newbie", channel="C-help")
    await chat.say(NEAR_MISS, user="newbie", channel="C-help")
    [reply] = await chat.actions()
    assert isinstance(reply, Reply)
    assert reply.faq_id == "reset_password"
    assert reply.text.startswith("Use 'Forgot password'")
    assert reply.thread == "m1"
    assert reply.reason.endswith(f"by trained:{load_faqs(faqs).version}")
    assert verdict.action_ids == (reply.id,)

    # a moderator adds an entry: the next batch answers with the closed-form matcher, since
    # the trained one was fitted for the file as it was
    added = FaqEntry(id="gift_cards", questions=["do you sell gift cards?"], answer="Yes.")
    append_entry(faqs, added)
    asked = await chat.say("how do i reset my password?", user="other", channel="C-help")
    latest = (await chat.actions())[-1]
    assert isinstance(latest, Reply)
    assert latest.id in asked.action_ids  # answered now, not the earlier reply
    assert latest.faq_id == "reset_password"
    assert "by closed-form:" in latest.reason


def test_without_the_train_extra_faq_train_names_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "torch", None)  # what an install without the extra sees
    faqs = tmp_path / "faq.yaml"
    faqs.write_text(FAQ, encoding="utf-8")
    result = CliRunner().invoke(
        app, ["faq", "train", "--faqs", str(faqs)], env={"MODTRIAGE_DATA_DIR": str(tmp_path)}
    )
    assert result.exit_code == 2
    assert "needs the 'train' extra (torch missing)" in result.output
    assert "pip install 'modtriage[train]'" in result.output
    assert not (tmp_path / "faq-matchers").exists()
