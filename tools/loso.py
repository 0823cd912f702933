"""Leave-source-out validation of the moderation model, and calibration from it.

The public files are split into FOLDS (groups of sources); for each fold the encoder is
fine-tuned without that fold's sources (``tools/finetune_encoder.py --exclude``), heads are
fitted on a sample of the remaining training rows, and the held-out sources are scored: every
score in the report comes from a model that never saw a row of that source. The same protocol
runs on the frozen stock encoder (no fine-tuning) as the baseline. Vectors come from the int8
ONNX exports, as the bot runs them.

Calibration and thresholds are chosen on out-of-source scores: each fold's scores are
calibrated by an isotonic map fitted on the other folds' out-of-source scores (nested, so the
per-source figures stay honest), and the map fitted on all folds together is what the shipped
heads use (``calibration-finetuned.json``, given to ``modtriage train --calibration``), so that
a 0.9 means about the same on a source the model never saw. ``review_thresholds`` in the
report are the F1-best review points on the pooled out-of-source scores.

Runs in the bot's venv; calls the build venv for torch. Usage:
  .venv/bin/python tools/loso.py TABLE WORK_DIR [--steps 300] [--json OUT.json]
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from bot.classifiers.calibration import Isotonic, fit_isotonic
from bot.classifiers.dataset import ModerationRow
from bot.classifiers.evaluation import evaluate
from bot.classifiers.heads import Heads, TrainConfig, fit_mlp
from bot.classifiers.onnx_encoder import OnnxEncoder
from bot.policy import load_policy

REPO = Path(__file__).resolve().parent.parent
BUILD_PYTHON = REPO / ".venv-build" / "bin" / "python"
STOCK_EXPORT = REPO / ".cache" / "encoder" / "all-minilm-l6-v2"  # `make encoder`
FOLDS: dict[str, tuple[str, ...]] = {
    "A": (
        "davidson",
        "youtube_spam",
        "cssrs_reddit",
        "hatemoji_build",
        "jbb_behaviors",
        "forbidden_questions",
    ),
    "B": ("tweeteval_hate", "sms_spam", "convabuse", "strongreject", "advbench"),
    "C": (
        "tweeteval_offensive",
        "threatgram",
        "toxigen_seeds",
        "harmbench_behaviors",
        "harmful_other",
    ),
    "D": ("hatexplain", "dynahate", "sbic", "benign_instructions"),
}
HEADS_SAMPLE_PER_FILE = 800  # training rows per public file for the fold heads
EVAL_PER_FILE = 1500  # held-out rows scored per source


def _hash(text: str) -> int:
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:4], "big")


def _norm(text: str) -> str:
    return " ".join(text.lower().split())


def _capped(idx: list[int], rows: list[dict], cap: int) -> list[int]:
    return sorted(sorted(idx, key=lambda i: _hash(rows[i]["text"]))[:cap])


def read_table(path: Path) -> tuple[list[str], list[dict]]:
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        header = json.loads(fh.readline())
        return header["categories"], [json.loads(line) for line in fh]


def plan(rows: list[dict]) -> tuple[list[int], dict[str, list[int]]]:
    """Rows the fold heads train on (a sample of every file), and each source's eval rows."""
    by_file: dict[str, list[int]] = {}
    for i, r in enumerate(rows):
        by_file.setdefault(r["file"], []).append(i)
    sample: list[int] = []
    for file, idx in by_file.items():
        train = [i for i in idx if rows[i]["split"] == "train"]
        sample += (
            train if file in ("written", "policy") else _capped(train, rows, HEADS_SAMPLE_PER_FILE)
        )
    held = {
        file: _capped(by_file[file], rows, EVAL_PER_FILE)
        for files in FOLDS.values()
        for file in files
        if file in by_file
    }
    return sorted(sample), held


def _build_tool(script: str, *args: object) -> None:
    """Run one of tools/ in the build venv (torch), echoing the command."""
    cmd = [str(BUILD_PYTHON), str(REPO / "tools" / script), *map(str, args)]
    print("$", " ".join(cmd), flush=True)
    subprocess.run(cmd, check=True)  # noqa: S603 (our own scripts, arguments built here)


def embeddings(
    table: Path,
    work: Path,
    name: str,
    idx: list[int],
    rows: list[dict],
    *,
    steps: int,
    exclude: tuple[str, ...],
    threads: int,
    mix: float | None = None,
) -> np.ndarray:
    """Vectors of ``rows[idx]`` from the int8 ONNX export of a fold model (fine-tuned without
    ``exclude``, then averaged with the stock weights when ``mix`` is given: what
    ``tools/mix_encoder.py --alpha MIX`` makes of it), or of the stock export when ``steps`` is
    0: what the bot would run."""
    mixed_name = name if mix is None else f"{name}-mix{mix:g}"
    out = work / f"{mixed_name}.npy"
    if out.is_file():
        return np.load(out)
    model_dir = STOCK_EXPORT if steps == 0 else work / name
    if not (model_dir / "encoder.json").is_file():
        _build_tool(
            "finetune_encoder.py", table, model_dir, "--steps", steps,
            "--exclude", ",".join(exclude), "--threads", threads,
        )  # fmt: skip
    if steps and mix is not None:
        fine_tuned, model_dir = model_dir, work / mixed_name
        if not (model_dir / "encoder.json").is_file():
            _build_tool("mix_encoder.py", fine_tuned / "hf", model_dir, "--alpha", mix)
    encoder = OnnxEncoder(model_dir=model_dir, threads=threads, remember=0)
    vectors = encoder.embed_sync([rows[i]["text"] for i in idx])
    np.save(out, vectors)
    return vectors


def fold_raw(
    rows: list[dict],
    categories: list[str],
    vectors: dict[int, np.ndarray],
    sample: list[int],
    held_idx: list[int],
    exclude: tuple[str, ...],
    config: TrainConfig,
) -> np.ndarray:
    """Raw head outputs on ``held_idx`` from heads fitted on the sample minus ``exclude``."""
    train = [i for i in sample if rows[i]["file"] not in exclude]
    x = np.stack([vectors[i] for i in train])
    y = np.array([rows[i]["y"] for i in train], dtype=np.float32)
    mask = np.array([rows[i]["mask"] for i in train], dtype=np.float32)
    weight = np.array([rows[i]["weight"] for i in train], dtype=np.float32)
    w1, b1, w2, b2 = fit_mlp(x, y, mask, weight, config=config)
    heads = Heads(
        categories=tuple(categories),
        w1=w1,
        b1=b1,
        w2=w2,
        b2=b2,
        cards={},
        encoder_sha256="fold",
        config=config,
        revision="fold",
    )
    return heads.raw(np.stack([vectors[i] for i in held_idx]))


def calibrations(
    rows: list[dict], categories: list[str], idx: list[int], raw: np.ndarray
) -> dict[str, Isotonic | None]:
    out: dict[str, Isotonic | None] = {}
    for j, category in enumerate(categories):
        keep = np.array([rows[i]["mask"][j] > 0 for i in idx])
        yj = np.array([rows[i]["y"][j] for i in idx], dtype=np.float32)[keep]
        wj = np.array([min(rows[i]["weight"][j], 1.0) for i in idx], dtype=np.float32)[keep]
        if (yj == 1).sum() >= 5 and (yj == 0).sum() >= 5:
            out[category] = fit_isotonic(raw[keep, j], yj, weight=wj)
        else:
            out[category] = None
    return out


def calibrated(raw: np.ndarray, categories: list[str], maps: dict[str, Isotonic | None]):
    out = raw.copy()
    for j, category in enumerate(categories):
        if maps.get(category) is not None:
            out[:, j] = maps[category](raw[:, j])  # type: ignore[misc]
    return out


def best_thresholds(
    rows: list[dict], categories: list[str], idx: list[int], scores: np.ndarray
) -> dict[str, dict[str, float]]:
    """Per category, the score from which flagging maximises F1 over the pooled
    out-of-source (nested-calibrated) scores of every fold, on rows that annotate it."""
    out: dict[str, dict[str, float]] = {}
    for j, category in enumerate(categories):
        keep = [k for k, i in enumerate(idx) if rows[i]["mask"][j] and rows[i]["weight"][j] >= 0.5]
        y = np.array([rows[idx[k]]["y"][j] for k in keep], dtype=bool)
        if y.sum() < 10 or (~y).sum() < 10:
            continue
        s = scores[keep, j]
        best = (0.0, 0.5)
        for t in np.arange(0.05, 0.96, 0.05):
            pred = s >= t
            tp = float((pred & y).sum())
            f1 = 2 * tp / max(float(pred.sum() + y.sum()), 1.0)
            if f1 > best[0]:
                best = (f1, float(round(t, 2)))
        out[category] = {"threshold": best[1], "f1": round(best[0], 4), "n": len(keep)}
    return out


def run(args: argparse.Namespace) -> dict:
    categories, rows = read_table(args.table)
    policy = load_policy(args.policy)
    sample, held = plan(rows)
    args.work.mkdir(parents=True, exist_ok=True)
    config = TrainConfig(weight_decay=args.weight_decay)
    report: dict = {
        "folds": {k: list(v) for k, v in FOLDS.items()},
        "steps": args.steps,
        "mix": args.mix,
        "heads": config.model_dump(),
    }
    for model in args.models.split(","):
        started = time.perf_counter()
        raw_by_fold: dict[str, tuple[list[int], np.ndarray]] = {}
        for fold, files in FOLDS.items():
            # a text that another file also holds (SBIC quotes Davidson tweets) is not held out
            seen = {_norm(r["text"]) for r in rows if r["file"] not in files}
            held_idx = sorted(
                i for f in files for i in held.get(f, []) if _norm(rows[i]["text"]) not in seen
            )
            if model == "frozen":  # one pass of the stock encoder serves every fold
                need = sorted(set(sample) | {i for v in held.values() for i in v})
                vec = embeddings(
                    args.table,
                    args.work,
                    "frozen",
                    need,
                    rows,
                    steps=0,
                    exclude=(),
                    threads=args.threads,
                )
            else:
                need = sorted(set(sample) | set(held_idx))
                vec = embeddings(
                    args.table,
                    args.work,
                    f"fold-{fold}",
                    need,
                    rows,
                    steps=args.steps,
                    exclude=files,
                    threads=args.threads,
                    mix=args.mix,
                )
            vectors = dict(zip(need, vec, strict=True))
            raw = fold_raw(rows, categories, vectors, sample, held_idx, files, config)
            raw_by_fold[fold] = (held_idx, raw)
        per_source: dict[str, dict] = {}
        pooled_idx: list[int] = []
        pooled_scores: list[np.ndarray] = []
        for fold, (held_idx, raw) in raw_by_fold.items():
            others = [f for f in FOLDS if f != fold]
            o_idx = [i for f in others for i in raw_by_fold[f][0]]
            o_raw = np.concatenate([raw_by_fold[f][1] for f in others])
            scores = calibrated(raw, categories, calibrations(rows, categories, o_idx, o_raw))
            pooled_idx += held_idx
            pooled_scores.append(scores)
            pos = {i: p for p, i in enumerate(held_idx)}
            for file in FOLDS[fold]:
                idx = [i for i in held.get(file, []) if i in pos]
                if not idx:
                    continue
                mrows = [
                    ModerationRow(
                        text=rows[i]["text"],
                        labels={
                            c: int(rows[i]["y"][j])
                            for j, c in enumerate(categories)
                            if rows[i]["mask"][j] and rows[i]["weight"][j] >= 0.5
                        },
                        source=rows[i]["source"],
                    )
                    for i in idx
                ]
                keep = [k for k, r in enumerate(mrows) if r.labels]
                mscores = [
                    {c: float(scores[pos[idx[k]], j]) for j, c in enumerate(categories)}
                    for k in keep
                ]
                rep = evaluate(
                    [mrows[k] for k in keep],
                    mscores,
                    policy,
                    dataset=file,
                    seconds=0.0,
                    latencies_ms=[],
                )
                n_pos = sum(r.flagged for r in (mrows[k] for k in keep))
                per_source[file] = {
                    "sources": sorted({mrows[k].source for k in keep}),
                    "n": rep.n,
                    "n_flagged": n_pos,
                    "f1": round(rep.flagged.f1, 4),
                    "precision": round(rep.flagged.precision, 4),
                    "recall": round(rep.flagged.recall, 4),
                    "auprc": round(rep.flagged.auprc, 4),
                    "flag_rate": round(1.0 - rep.routing["allow"], 4),
                }
        with_pos = [v["f1"] for v in per_source.values() if v["n_flagged"]]
        all_idx = [i for f in FOLDS for i in raw_by_fold[f][0]]
        all_raw = np.concatenate([raw_by_fold[f][1] for f in FOLDS])
        maps = calibrations(rows, categories, all_idx, all_raw)
        (args.work / f"calibration-{model}.json").write_text(
            json.dumps({c: (m.model_dump() if m else None) for c, m in maps.items()}, indent=1)
        )
        report[model] = {
            "review_thresholds": best_thresholds(
                rows, categories, pooled_idx, np.concatenate(pooled_scores)
            ),
            "per_source": per_source,
            "mean_f1": round(float(np.mean(with_pos)), 4),
            "sources_averaged": len(with_pos),
            "seconds": round(time.perf_counter() - started, 1),
        }
        print(json.dumps({model: report[model]["mean_f1"]}), flush=True)
    if "frozen" in report and "finetuned" in report:
        gain = report["finetuned"]["mean_f1"] - report["frozen"]["mean_f1"]
        report["gain"] = round(gain, 4)
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("table", type=Path)
    parser.add_argument("work", type=Path)
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--policy", type=Path, default=REPO / "policies" / "default.yaml")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--models", default="frozen,finetuned", help="which to run")
    parser.add_argument("--threads", type=int, default=2, help="torch threads per fold")
    parser.add_argument(
        "--mix",
        type=float,
        help="average each fold's fine-tuned weights with the stock ones, this share fine-tuned "
        "(tools/mix_encoder.py --alpha; measured, not what ships: see the data card)",
    )
    parser.add_argument(
        "--weight-decay",
        type=float,
        default=TrainConfig().weight_decay,
        help="of the fold heads (the shipped heads' default unless given)",
    )
    args = parser.parse_args()
    report = run(args)
    text = json.dumps(report, indent=1)
    if args.json:
        args.json.write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    sys.exit(main())
