"""Average the fine-tuned encoder's weights with the stock ones, and export the mix.

Weight-space ensembling of a fine-tuned model with its zero-shot start (WiSE-FT, Wortsman et
al., CVPR 2022): every parameter becomes ``alpha * fine-tuned + (1 - alpha) * stock``. The mix
keeps most of what the fine-tuning taught on the sources it saw and much of the stock model's
breadth on sources it did not; it is one encoder of the same architecture, so it costs nothing
at run time. Leave-source-out (``tools/loso.py --mix``) measured it above both ends; the
shipped encoder is not mixed (the data card says what the mix cost in source).

Runs in the build environment. Reads FINETUNED (an ``hf/`` model folder of
``tools/finetune_encoder.py``, fp32 or fp16 weights; the mix is computed in fp32) and writes
into OUT_DIR what ``finetune_encoder.py`` writes: ``hf/``, ``hf-fp16/``, ``model.fp32.onnx``,
``model.onnx`` (int8), ``tokenizer.json`` and ``encoder.json`` (the fine-tuned model's recipe,
when its ``encoder.json`` sits beside the folder, plus ``alpha`` and the folder's sha256).

Usage: .venv-build/bin/python tools/mix_encoder.py FINETUNED_HF OUT_DIR [--alpha 0.5]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path

import torch
from tokenizers import Tokenizer
from transformers import BertModel

sys.path.insert(0, str(Path(__file__).resolve().parent))
from export_encoder import PACKAGE, Pooled, export_onnx
from finetune_encoder import save_hf, source_model_dir


def mixed(finetuned: Path, alpha: float) -> BertModel:
    """The stock BERT with every parameter and buffer moved ``alpha`` of the way to
    ``finetuned``'s."""
    stock = BertModel.from_pretrained(str(source_model_dir()), attn_implementation="eager")
    tuned = BertModel.from_pretrained(str(finetuned), attn_implementation="eager")
    tuned_state = tuned.float().state_dict()
    state = {
        name: alpha * tuned_state[name] + (1.0 - alpha) * value
        if value.is_floating_point()
        else value
        for name, value in stock.float().state_dict().items()
    }
    stock.load_state_dict(state)
    return stock.eval()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("finetuned", type=Path, help="hf/ folder of the fine-tuned encoder")
    parser.add_argument("out", type=Path)
    parser.add_argument("--alpha", type=float, default=0.5, help="share of the fine-tuned weights")
    args = parser.parse_args()
    if not 0.0 <= args.alpha <= 1.0:
        raise SystemExit(f"--alpha must be within 0 and 1, not {args.alpha}")
    torch.manual_seed(0)
    model = Pooled(mixed(args.finetuned, args.alpha)).eval()
    args.out.mkdir(parents=True, exist_ok=True)
    save_hf(model, args.out / "hf")
    save_hf(model, args.out / "hf-fp16", half=True)
    beside = args.finetuned.parent / "encoder.json"
    recipe = json.loads(beside.read_text()) if beside.is_file() else {}
    weights = args.finetuned / "model.safetensors"
    extra = {
        "name": recipe.get("name", "modtriage-minilm-l6-moderation"),
        "base": f"{PACKAGE} (all-MiniLM-L6-v2), fine-tuned end to end, weights averaged "
        f"with the stock ones (alpha {args.alpha})",
        "recipe": recipe.get("recipe", {}),
        "categories": recipe.get("categories", []),
        "train_rows": recipe.get("train_rows"),
        "train_seconds": recipe.get("train_seconds"),
        "threads": recipe.get("threads"),
        "mix": {
            "alpha": args.alpha,
            "finetuned_sha256": hashlib.sha256(weights.read_bytes()).hexdigest(),
            "finetuned_onnx_sha256": recipe.get("onnx_sha256"),
        },
    }
    tokenizer = Tokenizer.from_file(str(source_model_dir() / "tokenizer.json"))
    export_onnx(model, tokenizer, args.out, extra=extra)


if __name__ == "__main__":
    main()
