"""The packaged sentence encoder, run for real through onnxruntime."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from bot.classifiers.onnx_encoder import OnnxEncoder
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
    similar = float(vectors[0] @ vectors[2])
    unrelated = float(vectors[0] @ vectors[1])
    assert similar > 0.6 > unrelated


async def test_batching_does_not_change_a_vector(encoder: OnnxEncoder) -> None:
    text = "the new release is out, check the notes"
    alone = await encoder.embed([text])
    padded = await encoder.embed(["a much longer message " * 30, text])
    assert float(alone[0] @ padded[1]) > 0.9999


async def test_long_input_is_truncated_not_refused(encoder: OnnxEncoder) -> None:
    vectors = await encoder.embed(["word " * 5000])
    assert vectors.shape == (1, 384)


def test_missing_model_says_how_to_build_it(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="make encoder"):
        OnnxEncoder(model_dir=tmp_path)
