"""Write the moderation training table that ``tools/finetune_encoder.py`` reads.

Runs in the bot's own venv (it uses the same row collection, splits, source balancing and
label masks as ``modtriage train``), so the torch-only fine-tuning script needs nothing of the
bot. One JSON object per line, gzipped:
``{"text", "file", "source", "origin", "split", "y": [...], "mask": [...], "weight": [...]}``,
the three lists in the order of ``categories`` on the first line (a header object). Rows of
the adversarial files (DynaHate, HatemojiBuild) also carry ``"pair": [own id, matched id]``:
an original and its minimal perturbation, which the fine-tuning puts in one batch.

Usage: .venv/bin/python tools/training_table.py DATA_DIR OUT.jsonl.gz [--policy P.yaml]
"""

from __future__ import annotations

import argparse
import gzip
import json
from pathlib import Path

from bot.classifiers.training_rows import collect_rows, row_matrices
from bot.policy import load_policy

REPO = Path(__file__).resolve().parent.parent


def _pair(file: str, meta: dict) -> list[str] | None:
    """``[own id, matched id]`` of a row that names its minimal pair (``meta.matched_id``)."""
    own = meta.get("acl_id") or meta.get("entry_id")
    matched = meta.get("matched_id")
    if own is None or matched is None:
        return None
    return [f"{file}:{own}", f"{file}:{matched}"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", type=Path, help="folder holding moderation/*.jsonl")
    parser.add_argument("out", type=Path)
    parser.add_argument("--policy", type=Path, default=REPO / "policies" / "default.yaml")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    policy = load_policy(args.policy)
    categories = tuple(policy.categories)
    rows = collect_rows(policy, args.data, seed=args.seed)
    y, mask, weight = row_matrices(rows, categories)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with gzip.open(args.out, "wt", encoding="utf-8") as fh:
        fh.write(json.dumps({"categories": list(categories), "seed": args.seed}) + "\n")
        for i, item in enumerate(rows):
            record = {
                "text": item.row.text,
                "file": item.file,
                "source": item.row.source,
                "origin": item.origin,
                "split": item.split,
                "y": y[i].astype(int).tolist(),
                "mask": mask[i].astype(int).tolist(),
                "weight": [round(float(w), 4) for w in weight[i]],
            }
            pair = _pair(item.file, item.row.meta)
            if pair:
                record["pair"] = pair
            fh.write(json.dumps(record, ensure_ascii=False) + "\n")
    print(f"{len(rows)} rows, {len(categories)} categories -> {args.out}")


if __name__ == "__main__":
    main()
