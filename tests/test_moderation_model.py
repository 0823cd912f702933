"""The fine-tuned moderation encoder the bot ships: what it says in chat, and what it is.

The committed ONNX file is the one the data card and ``encoder.json`` name (sha256), and the
recipe that made it still runs: the training table and the fine-tuning script are run on a
tiny sample here, end to end through the ONNX export, so they cannot rot unnoticed.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from bot.classifiers.embedded import PACKAGED_HEADS, EmbeddedClassifier
from bot.classifiers.evaluation import route_for
from bot.classifiers.heads import Heads
from bot.classifiers.onnx_encoder import DEFAULT_ENCODER_DIR, OnnxEncoder
from bot.policy import Policy
from bot.verdict import Route

REPO = Path(__file__).resolve().parent.parent
BUILD_PYTHON = REPO / ".venv-build" / "bin" / "python"
DATA_CARD = REPO / "bot" / "classifiers" / "DATA_CARD.md"


@pytest.fixture(scope="module")
def classifier(default_policy: Policy) -> EmbeddedClassifier:
    return EmbeddedClassifier(
        encoder=OnnxEncoder(), heads=Heads.load(PACKAGED_HEADS), policy=default_policy
    )


async def route(classifier: EmbeddedClassifier, policy: Policy, text: str) -> tuple[Route, dict]:
    [result] = await classifier.classify([text])
    scores = dict(result.scores)
    return route_for(scores, list(scores), policy), scores


CLEAR = [
    ("kys", "harassment"),
    ("I will find where you live", "violence"),
    ("how do I make a pipe bomb at home?", "violence"),
    ("free discord nitro for everyone, claim it here: dlscord-gift.com/nitro", "spam"),
    ("immigrants are vermin and should all be thrown out of this country", "hate"),
    ("I can't do this anymore, I'm going to kill myself tonight", "self_harm"),
]
NOT_ACTED = [
    "how do I kill a Python process?",
    "lol that's a scam, don't click it",
    "calling refugees vermin is disgusting and has no place in this server",
    "someone in #general called immigrants vermin, can a mod take a look?",
    "I don't hate anyone for their religion",
    "this boss fight is killing me",
]


@pytest.mark.parametrize(("text", "category"), CLEAR)
async def test_a_clear_violation_reaches_at_least_review_in_its_category(
    classifier: EmbeddedClassifier, default_policy: Policy, text: str, category: str
) -> None:
    found, scores = await route(classifier, default_policy, text)
    assert found is not Route.ALLOW, scores
    assert scores[category] >= default_policy.thresholds(category).review, scores


@pytest.mark.parametrize("text", NOT_ACTED)
async def test_counter_speech_reports_and_technical_talk_are_not_acted_on(
    classifier: EmbeddedClassifier, default_policy: Policy, text: str
) -> None:
    found, scores = await route(classifier, default_policy, text)
    assert found is not Route.ACT, scores


def test_the_committed_model_is_the_one_the_data_card_and_encoder_json_name() -> None:
    meta = json.loads((DEFAULT_ENCODER_DIR / "encoder.json").read_text())
    digest = hashlib.sha256((DEFAULT_ENCODER_DIR / "model.onnx").read_bytes()).hexdigest()
    assert meta["onnx_sha256"] == digest
    assert meta["name"] == "modtriage-minilm-l6-moderation"
    card_hashes = set(re.findall(r"\b[0-9a-f]{64}\b", DATA_CARD.read_text()))
    assert digest in card_hashes
    heads = Heads.load(PACKAGED_HEADS)
    assert heads.encoder_sha256 == digest  # the heads were fitted on this very file


def _tiny_table(path: Path) -> None:
    categories = ["hate", "spam"]
    rows = [
        ("immigrants are vermin", [1, 0], [1, 0]),
        ("I love my immigrant neighbours", [0, 0], [1, 0]),
        ("FREE NITRO claim now at gift.example.ru", [0, 1], [0, 1]),
        ("the release notes are on the wiki", [0, 0], [0, 1]),
    ] * 4
    with gzip.open(path, "wt", encoding="utf-8") as fh:
        fh.write(json.dumps({"categories": categories, "seed": 0}) + "\n")
        for i, (text, y, mask) in enumerate(rows):
            record = {
                "text": text,
                "file": "tiny",
                "source": "tiny",
                "origin": "public",
                "split": "train",
                "y": y,
                "mask": mask,
                "weight": [float(m) for m in mask],
            }
            if i % 4 < 2:  # the claim and its perturbation: a minimal pair
                record["pair"] = [f"tiny:{i % 4}", f"tiny:{1 - i % 4}"]
            fh.write(json.dumps(record) + "\n")


@pytest.mark.timeout(600)
def test_the_fine_tuning_recipe_runs_end_to_end_on_a_tiny_sample(tmp_path: Path) -> None:
    assert BUILD_PYTHON.is_file(), "the build venv is missing: run `make encoder`"
    data = tmp_path / "data" / "moderation"
    data.mkdir(parents=True)
    # twenty claims, each with its perturbation (the other label): DynaHate's shape
    rows = [
        {"text": t, "labels": {"hate": y}, "source": "tiny",
         "meta": {"acl_id": f"{n}{y}", "matched_id": f"{n}{1 - y}"}}
        for n in range(20)
        for t, y in [("they are vermin", 1), ("they are lovely", 0)]
    ]  # fmt: skip
    (data / "tiny.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    table = tmp_path / "table.jsonl.gz"
    subprocess.run(
        [sys.executable, str(REPO / "tools" / "training_table.py"), str(tmp_path / "data"),
         str(table)],
        check=True,
    )  # fmt: skip
    with gzip.open(table, "rt") as fh:
        header = json.loads(fh.readline())
        records = [json.loads(line) for line in fh]
    assert "hate" in header["categories"]
    assert {r["file"] for r in records} == {"tiny", "written", "policy"}
    pairs = {tuple(r["pair"]) for r in records if "pair" in r}
    assert ("tiny:31", "tiny:30") in pairs  # the hateful row names its perturbation
    assert all(r["file"] == "tiny" for r in records if "pair" in r)

    tiny = tmp_path / "tiny.jsonl.gz"
    _tiny_table(tiny)
    out = tmp_path / "model"
    tuned_run = subprocess.run(
        [str(BUILD_PYTHON), str(REPO / "tools" / "finetune_encoder.py"), str(tiny), str(out),
         "--steps", "6", "--batch", "4", "--threads", "1", "--checkpoint-every", "3", "--pairs"],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    assert "8 rows have their minimal pair in training" in tuned_run.stdout
    meta = json.loads((out / "encoder.json").read_text())
    assert meta["onnx_sha256"] == hashlib.sha256((out / "model.onnx").read_bytes()).hexdigest()
    assert meta["min_cosine_vs_reference"] >= 0.9999
    assert (out / "hf" / "model.safetensors").is_file()
    assert (out / "hf" / "1_Pooling" / "config.json").is_file()
    assert (out / "checkpoint.pt").is_file()

    tuned = OnnxEncoder(model_dir=out, precision="fp32").embed_sync(["immigrants are vermin"])
    stock_dir = REPO / ".cache" / "encoder" / "all-minilm-l6-v2"
    stock = OnnxEncoder(model_dir=stock_dir, precision="fp32").embed_sync(["immigrants are vermin"])
    assert np.isclose(np.linalg.norm(tuned), 1.0, atol=1e-4)
    assert not np.allclose(tuned, stock, atol=1e-4)  # six steps moved the weights

    # the shipped encoder is the fine-tuned one averaged with the stock weights (WiSE-FT)
    for alpha in ("0.5", "0"):
        subprocess.run(
            [str(BUILD_PYTHON), str(REPO / "tools" / "mix_encoder.py"), str(out / "hf"),
             str(tmp_path / f"mix{alpha}"), "--alpha", alpha],
            check=True, capture_output=True, text=True,
        )  # fmt: skip
    half = json.loads((tmp_path / "mix0.5" / "encoder.json").read_text())
    assert half["mix"]["alpha"] == 0.5
    assert half["recipe"]["steps"] == "6"  # the fine-tuned model's recipe travels with it
    assert (tmp_path / "mix0.5" / "hf-fp16" / "model.safetensors").is_file()
    text = ["immigrants are vermin"]
    mixed = OnnxEncoder(model_dir=tmp_path / "mix0.5", precision="fp32").embed_sync(text)
    none = OnnxEncoder(model_dir=tmp_path / "mix0", precision="fp32").embed_sync(text)
    assert np.allclose(none, stock, atol=1e-5)  # alpha 0 is the stock encoder
    apart = float(stock[0] @ tuned[0])
    assert float(mixed[0] @ tuned[0]) > apart  # halfway: nearer the tuned one than stock is
    assert float(mixed[0] @ stock[0]) > apart  # ... and nearer the stock one than tuned is
