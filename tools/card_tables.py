"""Print the data card's tables from the training report and the leave-source-out report.

Usage: .venv/bin/python tools/card_tables.py HEADS_REPORT.json LOSO.json
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def main(report_path: Path, loso_path: Path) -> None:
    report = json.loads(report_path.read_text())
    loso = json.loads(loso_path.read_text())
    print("| source | n | flagged P | R | F1 | AUPRC |")
    print("|---|---:|---:|---:|---:|---:|")
    for source, rep in report["validation"].items():
        f = rep["flagged"]
        print(
            f"| {source} | {rep['n']:,} | {f['precision']:.3f} | {f['recall']:.3f} | "
            f"**{f['f1']:.3f}** | {f['auprc']:.3f} |"
        )
    print()
    print(
        "| held-out source | n (flagged) | fine-tuned F1 (P / R) | frozen F1 (P / R) "
        "| flag rate tuned / frozen |"
    )
    print("|---|---:|---:|---:|---:|")
    tuned, frozen = loso["finetuned"]["per_source"], loso["frozen"]["per_source"]
    for file, t in tuned.items():
        b = frozen.get(file, {})
        print(
            f"| {file} | {t['n']:,} ({t['n_flagged']:,}) | **{t['f1']:.3f}** "
            f"({t['precision']:.2f} / {t['recall']:.2f}) | {b.get('f1', 0):.3f} "
            f"({b.get('precision', 0):.2f} / {b.get('recall', 0):.2f}) | "
            f"{t['flag_rate']:.1%} / {b.get('flag_rate', 0):.1%} |"
        )
    print(
        f"\nmean F1 over {loso['finetuned']['sources_averaged']} sources with positives: "
        f"fine-tuned {loso['finetuned']['mean_f1']:.3f}, frozen {loso['frozen']['mean_f1']:.3f}, "
        f"gain {loso.get('gain', 0):+.3f}"
    )
    for key in ("hard_negatives", "perturbations"):
        s = report.get(key)
        if s:
            print(f"{key}: {s['flagged']}/{s['n']} = {s['rate']:.1%}")


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
