"""The packaged sentence encoder, run for real through onnxruntime."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from bot.classifiers.onnx_encoder import STOCK_ENCODER_DIR, OnnxEncoder
from bot.errors import ConfigError


@pytest.fixture(scope="module")
def encoder() -> OnnxEncoder:
    return OnnxEncoder()


async def test_vectors_are_unit_length_in_input_order(encoder: OnnxEncoder) -> None:
    texts = ["how do I reset my password?", "ok", "password reset help please", ""]
    vectors = await encoder.embed(texts)
    assert vectors.shape == (4, 384)
    assert vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    # the moderation-tuned encoder puts harmless chat close together on purpose; meaning
    # between harmless questions is the stock encoder's job (FAQ matching runs on it)
    stock = await OnnxEncoder(model_dir=STOCK_ENCODER_DIR).embed(texts)
    assert float(stock[0] @ stock[2]) > 0.6 > float(stock[0] @ stock[1])


async def test_the_tuned_encoder_separates_abuse_from_chat_more_than_the_stock_one(
    encoder: OnnxEncoder,
) -> None:
    chat = ["thanks for the help with the release!", "does anyone know when the meetup is?"]
    abuse = ["you are a worthless idiot, kys", "immigrants are vermin and should be thrown out"]

    async def gap(model: OnnxEncoder) -> float:
        c, a = await model.embed(chat), await model.embed(abuse)
        return float((c @ c.T).mean() - (c @ a.T).mean())

    assert await gap(encoder) > await gap(OnnxEncoder(model_dir=STOCK_ENCODER_DIR))


async def test_a_vector_does_not_depend_on_the_texts_embedded_with_it() -> None:
    encoder = OnnxEncoder(remember=0)  # computed every time, never recalled
    text = "the new release is out, check the notes"
    alone = await encoder.embed([text])
    with_long = await encoder.embed(["a much longer message " * 30, text, "ok"])
    with_short = await encoder.embed(["gg", "ok", text])
    assert np.array_equal(alone[0], with_long[1])
    assert np.array_equal(alone[0], with_short[2])


async def test_long_input_is_truncated_not_refused(encoder: OnnxEncoder) -> None:
    vectors = await encoder.embed(["word " * 5000])
    assert vectors.shape == (1, 384)


def test_missing_model_says_how_to_build_it(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="make encoder"):
        OnnxEncoder(model_dir=tmp_path)


async def test_a_text_embedded_again_is_remembered_not_recomputed(
    encoder: OnnxEncoder, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = await encoder.embed(["how do I install it?", "hello"])
    runs: list[list[str]] = []
    original = encoder.embed_sync

    def counting(texts: list[str]) -> np.ndarray:
        runs.append(list(texts))
        return original(texts)

    monkeypatch.setattr(encoder, "embed_sync", counting)
    again = await encoder.embed(["hello", "a new text", "how do I install it?", "a new text"])
    assert runs == [["a new text"]]  # one run, for the one text not seen yet
    assert np.array_equal(again[0], first[1])
    assert np.array_equal(again[2], first[0])
    assert np.array_equal(again[1], again[3])
