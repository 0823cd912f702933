"""Export a sentence encoder (BERT + mean pooling + L2 norm) to ONNX, fp32 and int8.

Needs the ``train`` extra (torch, onnx); nothing imports this module at run time, where
:class:`~bot.classifiers.onnx_encoder.OnnxEncoder` reads what it writes. Mean pooling and L2
normalisation are inside the graph, so the ONNX output is the sentence embedding
sentence-transformers gives.

:func:`export_onnx` writes into a folder: ``model.fp32.onnx`` (the exported graph),
``model.onnx`` (the same graph with int8 weights, dynamic quantisation per channel: what the
bot runs, 2-3x faster on a CPU with AVX-512 VNNI or AVX2), ``tokenizer.json`` (truncation 256,
no fixed padding) and ``encoder.json`` (dim, max tokens, sha256 of both graphs, and the
agreement measured here). It fails when fp32 disagrees with the torch model (cosine below
0.9999) or int8 drifts from fp32 by more than heads can absorb (cosine below 0.95 on any check
text). ``tools/export_encoder.py`` (the stock and the moderation encoders) and ``modtriage faq
train`` (a matcher per FAQ file) both export through it.
"""

from __future__ import annotations

import hashlib
import json
import warnings
from importlib.metadata import version
from pathlib import Path
from typing import Any

import numpy as np
import torch
from numpy.typing import NDArray
from tokenizers import Tokenizer

__all__ = ["CHECK_TEXTS", "MAX_TOKENS", "ExportError", "Pooled", "export_onnx"]

MAX_TOKENS = 256
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


class ExportError(Exception):
    """The exported graph does not give the vectors the torch model gives (``cosine``)."""

    def __init__(self, problem: str, cosine: float) -> None:
        self.cosine = cosine
        super().__init__(f"{problem}: cosine {cosine:.5f}")


class Pooled(torch.nn.Module):  # type: ignore[misc]  # torch is skipped by mypy (pyproject)
    """BERT -> masked mean over tokens -> L2 normalise."""

    def __init__(self, bert: Any) -> None:
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


def export_onnx(
    model: Pooled,
    tokenizer: Tokenizer,
    out_dir: Path,
    *,
    extra: dict[str, Any],
    reference: NDArray[np.float32] | None = None,
    quiet: bool = False,
) -> dict[str, Any]:
    """Writes model.fp32.onnx, model.onnx (int8), tokenizer.json and encoder.json; returns
    what encoder.json holds (printed unless ``quiet``).

    ``reference``: the vectors of CHECK_TEXTS the fp32 graph must reproduce (cosine 0.9999);
    by default the torch model's own.

    Raises:
        ExportError: the fp32 graph disagrees with the reference, or int8 drifts too far.
    """
    from onnxruntime.quantization import QuantType, quantize_dynamic

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
    with torch.no_grad(), warnings.catch_warnings():
        # the TorchScript exporter, which every committed encoder was exported with: torch
        # warns that it is deprecated (the dynamo exporter gives another graph) and the tracer
        # warns about shapes it fixes; the agreement checks below are what count
        warnings.simplefilter("ignore")
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
        raise ExportError("ONNX export disagrees with the torch model", cosine)
    int8_path = out_dir / "model.onnx"
    quantize_dynamic(onnx_path, int8_path, weight_type=QuantType.QInt8, per_channel=True)
    drift = float(
        np.min(np.sum(_embed(int8_path, tokenizer) * _embed(onnx_path, tokenizer), axis=1))
    )
    if drift < 0.95:
        raise ExportError("int8 model drifts too far from fp32", drift)
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
    if not quiet:
        print(json.dumps(meta, indent=2))
    return meta


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _embed(onnx_path: Path, tokenizer: Tokenizer) -> NDArray[np.float32]:
    import onnxruntime as ort

    session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    enc = tokenizer.encode_batch(CHECK_TEXTS)
    ids = np.array([e.ids for e in enc], dtype=np.int64)
    mask = np.array([e.attention_mask for e in enc], dtype=np.int64)
    return np.asarray(session.run(["embedding"], {"input_ids": ids, "attention_mask": mask})[0])
