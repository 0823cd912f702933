"""How well ``faq suggest`` finds the questions an FAQ is missing, on BANKING77-OOS dev.

The FAQ keeps only the even-numbered half of the 50 entries; every dev question is asked by a
member of its own (so each group's member count is its size). Questions of the removed
entries are what suggestions should find; questions of the kept entries should be answered
(or, when the matcher misses them, may resurface); out-of-scope questions are noise. For each
threshold it prints, as JSON: the suggestions made, their purity (share of a suggestion's
questions from its commonest entry), how many removed entries got a suggestion whose
commonest entry they are, how many suggestions are mostly out-of-scope or mostly kept-entry
questions, and the seconds ``propose`` took (embedding included). The newest
MAX_QUESTIONS_GROUPED (2,000) of the 2,236 dev questions are used: what one run groups.

    .venv/bin/python tools/faq_suggest_eval.py ../shared/data/faq [--thresholds 0.4,0.5,0.6]
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import time
from datetime import UTC, datetime
from pathlib import Path

from bot.classifiers.onnx_encoder import STOCK_ENCODER_DIR, OnnxEncoder
from bot.faq.entries import FaqFile, load_faqs
from bot.faq.handoffs import Asked
from bot.faq.matcher import FaqMatcher
from bot.faq.suggestions import MAX_QUESTIONS_GROUPED, open_groups, propose


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", type=Path, help="folder with banking_dev.jsonl, banking_faq.yaml")
    parser.add_argument("--thresholds", default="0.4,0.5,0.6")
    parser.add_argument("--min-members", type=int, default=3)
    args = parser.parse_args()
    full = load_faqs(args.data / "banking_faq.yaml")
    kept = tuple(e for i, e in enumerate(full.faqs) if i % 2 == 0)
    removed = {e.id for e in full.faqs} - {e.id for e in kept}
    faqs = FaqFile(path=full.path, faqs=kept, version="half")
    rows = [json.loads(line) for line in (args.data / "banking_dev.jsonl").open()]
    rows = rows[-MAX_QUESTIONS_GROUPED:]  # what one run groups
    at = datetime(2026, 1, 1, tzinfo=UTC)
    asked = [
        Asked(kind="question", key=f"q{i}", text=r["text"], member=f"m{i}", channel="C",
              thread=f"t{i}", at=at)
        for i, r in enumerate(rows)
    ]  # fmt: skip
    label = {f"q{i}": r["faq"] for i, r in enumerate(rows)}
    encoder = OnnxEncoder(model_dir=STOCK_ENCODER_DIR)
    out = []
    for threshold in (float(t) for t in args.thresholds.split(",")):
        matcher = FaqMatcher(faqs=faqs, encoder=encoder)
        started = time.perf_counter()
        found = await propose(asked, matcher, min_members=args.min_members, threshold=threshold)
        seconds = time.perf_counter() - started
        groups = await open_groups(asked, matcher, threshold=threshold)
        purities, top_labels = [], []
        for group, _ in groups:
            if len(group) < args.min_members:  # one member each: a group's size is its members
                continue
            labels = [label[q.key] for q in group]
            top, n = collections.Counter(labels).most_common(1)[0]
            purities.append(n / len(labels))
            top_labels.append(top)
        hit = {t for t in top_labels if t in removed}
        out.append({
            "threshold": threshold,
            "questions": len(asked),
            "grouped": sum(len(g) for g, _ in groups),
            "suggestions": len(found),
            "mean_purity": round(sum(purities) / len(purities), 3) if purities else None,
            "removed_entries_asked": len(removed & {r["faq"] for r in rows}),
            "removed_entries_found": len(hit),
            "suggestions_mostly_out_of_scope": sum(t is None for t in top_labels),
            "suggestions_mostly_kept_entries": sum(
                t is not None and t not in removed for t in top_labels
            ),
            "duplicate_suggestions": len([t for t in top_labels if t in removed]) - len(hit),
            "seconds": round(seconds, 2),
        })  # fmt: skip
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    asyncio.run(main())
