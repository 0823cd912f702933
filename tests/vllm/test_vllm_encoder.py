"""The fine-tuned moderation encoder served by vLLM on /v1/embeddings against the in-process
ONNX encoder: the same vectors, so heads and FAQ indexes fitted on one apply to the other."""

from __future__ import annotations

import numpy as np
import pytest

from bot.classifiers import OnnxEncoder, VllmEncoder
from tests.vllm.chat import LINES, lines
from tests.vllm.conftest import MINILM
from tests.vllm.servers import TUNED_FP32_DIR, VllmServer, openai_client

# the first test waits for the session fixture: venv build (once) and two server starts
pytestmark = [pytest.mark.vllm, pytest.mark.timeout(900)]

FAQ = {
    "reset_password": ("how do I reset my password?", "I forgot my password", "password reset"),
    "meetup": ("when is the next meetup?", "is the meetup still on friday?", "meetup time"),
    "refund": ("can I get a refund?", "how do refunds work", "I want my money back"),
}


@pytest.fixture(scope="module")
def onnx() -> OnnxEncoder:
    # vLLM serves the fine-tuned folder; its fp32 graph is the exact reference
    return OnnxEncoder(model_dir=TUNED_FP32_DIR, precision="fp32")


async def test_served_vectors_match_the_in_process_encoder(
    minilm: VllmServer, onnx: OnnxEncoder
) -> None:
    texts = [*lines(60), "", "ok", "word " * 400, "naïve café — 東京 🙂"]
    async with openai_client(minilm.base_url) as client:
        served = await VllmEncoder(client=client, model=MINILM, batch_size=16).embed(texts)
    local = await onnx.embed(texts)
    assert served.shape == local.shape == (len(texts), 384)
    np.testing.assert_allclose(np.linalg.norm(served, axis=1), 1.0, atol=1e-5)
    cosine = np.sum(served * local, axis=1)
    assert cosine.min() >= 0.999, f"lowest cosine {cosine.min():.6f}"


async def test_faq_verdicts_are_identical_on_a_sample(
    minilm: VllmServer, onnx: OnnxEncoder
) -> None:
    """Nearest FAQ entry by example question, with an out-of-scope threshold, either way."""
    examples = [(faq, q) for faq, questions in FAQ.items() for q in questions]
    asked = [*LINES, "reset my password please", "meetup friday?", "refund for my order"]

    def nearest(vectors: np.ndarray, index: np.ndarray) -> list[str | None]:
        similarity = vectors @ index.T
        best = similarity.argmax(axis=1)
        return [examples[b][0] if similarity[i, b] >= 0.6 else None
                for i, b in enumerate(best)]  # fmt: skip

    async with openai_client(minilm.base_url) as client:
        served_encoder = VllmEncoder(client=client, model=MINILM)
        served = nearest(
            await served_encoder.embed(asked),
            await served_encoder.embed([q for _, q in examples]),
        )
    local = nearest(await onnx.embed(asked), await onnx.embed([q for _, q in examples]))
    assert served == local
    assert {"reset_password", "meetup", "refund"} <= set(served), "the sample exercises each"
