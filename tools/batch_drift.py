"""How much a text's score depends on the texts it is batched with (issue 15, finding 3).

The int8 graph quantises activations dynamically (DynamicQuantizeLinear): one scale per tensor,
taken over the whole batch and its padding. This scores the same texts through the raw graph
alone, and in batches of 32 with two different shuffles (cut, as the encoder used to, into
length-sorted runs of 8), and once more with every row padded to one fixed shape; then through
:class:`~bot.classifiers.onnx_encoder.OnnxEncoder` (which runs each text alone) with the same
two shuffles. It reports the largest score change, how many texts change route under the
default policy, and CPU seconds per text. Nothing is written.

  .venv/bin/python tools/batch_drift.py [--data ../shared/data] [--texts 500]
"""

from __future__ import annotations

import argparse
import json
import random
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import onnxruntime as ort
from numpy.typing import NDArray
from tokenizers import Tokenizer

from bot.classifiers.embedded import PACKAGED_HEADS
from bot.classifiers.heads import Heads
from bot.classifiers.onnx_encoder import DEFAULT_ENCODER_DIR, OnnxEncoder
from bot.classifiers.training import written_rows
from bot.policy import Policy, load_policy

ROOT = Path(__file__).resolve().parent.parent
Vectors = NDArray[np.float32]


def _texts(data: Path | None, n: int, rng: random.Random) -> list[str]:
    """Up to 60 rows of each public file (mixed sources and lengths), else the written rows."""
    rows: list[str] = []
    if data is not None:
        for path in sorted((data / "moderation").glob("*.jsonl")):
            lines = [line for line in path.read_text().splitlines() if line.strip()]
            rows += [json.loads(line)["text"] for line in rng.sample(lines, min(60, len(lines)))]
    if not rows:
        rows = [r.row.text for r in written_rows()]
    return rng.sample(rows, min(n, len(rows)))


class Graph:
    """The int8 graph and its tokenizer, run on whatever batch it is given."""

    def __init__(self, model_dir: Path, *, fixed_tokens: int | None = None) -> None:
        meta = json.loads((model_dir / "encoder.json").read_text())
        self.tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
        self.tokenizer.enable_truncation(int(meta["max_tokens"]))
        self.tokenizer.enable_padding(pad_id=0, pad_token="[PAD]", length=fixed_tokens)  # noqa: S106
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        self.session = ort.InferenceSession(
            str(model_dir / "model.onnx"), sess_options=options, providers=["CPUExecutionProvider"]
        )

    def run(self, texts: Sequence[str]) -> Vectors:
        encoded = self.tokenizer.encode_batch(list(texts))
        feeds = {
            "input_ids": np.array([e.ids for e in encoded], dtype=np.int64),
            "attention_mask": np.array([e.attention_mask for e in encoded], dtype=np.int64),
        }
        return np.asarray(self.session.run(["embedding"], feeds)[0], dtype=np.float32)

    def in_runs_of(self, size: int) -> Callable[[Sequence[str]], Vectors]:
        """Length-sorted runs of ``size``, as the encoder batched before it ran texts alone."""

        def run(texts: Sequence[str]) -> Vectors:
            out = np.empty((len(texts), 384), dtype=np.float32)
            order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
            for start in range(0, len(order), size):
                chunk = order[start : start + size]
                out[chunk] = self.run([texts[i] for i in chunk])
            return out

        return run


def _batched(
    embed: Callable[[Sequence[str]], Vectors], texts: list[str], seed: int
) -> tuple[Vectors, float]:
    """Every text scored inside a batch of 32 whose mates a shuffle chose; CPU s per text."""
    order = list(range(len(texts)))
    random.Random(seed).shuffle(order)
    out = np.empty((len(texts), 384), dtype=np.float32)
    started = time.process_time()
    for start in range(0, len(order), 32):
        idx = order[start : start + 32]
        out[idx] = embed([texts[i] for i in idx])
    return out, (time.process_time() - started) / len(texts)


def _routes(scores: Vectors, heads: Heads, policy: Policy) -> list[tuple[str, ...]]:
    columns = [(j, c) for j, c in enumerate(heads.categories) if c in policy.categories]
    return [
        tuple(policy.thresholds(c, None).route(float(row[j])).value for j, c in columns)
        for row in scores
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--texts", type=int, default=500)
    args = parser.parse_args()
    rng = random.Random(0)
    texts = _texts(args.data if args.data.is_dir() else None, args.texts, rng)
    heads = Heads.load(PACKAGED_HEADS)
    policy = load_policy(ROOT / "bot" / "policies" / "default.yaml")
    graph = Graph(DEFAULT_ENCODER_DIR)
    encoder = OnnxEncoder(remember=0)

    started = time.process_time()
    alone = np.stack([graph.run([t])[0] for t in texts])
    alone_cpu = (time.process_time() - started) / len(texts)
    runs = graph.in_runs_of(8)
    fixed = Graph(DEFAULT_ENCODER_DIR, fixed_tokens=256).in_runs_of(8)
    cases = {
        "graph, batches of 8": (_batched(runs, texts, 1), _batched(runs, texts, 2)),
        "graph, padded to 256 tokens": (_batched(fixed, texts, 1), _batched(fixed, texts, 2)),
        "OnnxEncoder (each text alone)": (
            _batched(encoder.embed_sync, texts, 1),
            _batched(encoder.embed_sync, texts, 2),
        ),
    }
    reference = heads.scores(alone)
    print(f"{len(texts)} texts; CPU s per text alone through the graph: {alone_cpu * 1000:.1f} ms")
    for name, ((first, cpu), (second, _)) in cases.items():
        a, b = heads.scores(first), heads.scores(second)
        routes = zip(_routes(a, heads, policy), _routes(b, heads, policy), strict=True)
        changed = sum(x != y for x, y in routes)
        print(
            f"{name:32} max |Δscore| between shuffles {np.abs(a - b).max():.6f}, "
            f"vs alone {np.abs(a - reference).max():.6f}; routes changed {changed}; "
            f"CPU per text {cpu * 1000:.1f} ms"
        )


if __name__ == "__main__":
    main()
