"""FAQ matching runs on the stock encoder; the moderation-tuned one is its fallback."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.classifiers import build_faq_encoder
from bot.classifiers.onnx_encoder import DEFAULT_ENCODER_DIR, STOCK_ENCODER_DIR, OnnxEncoder
from bot.errors import ConfigError
from bot.settings import Settings


def test_questions_are_matched_on_the_stock_encoder_by_default() -> None:
    encoder = build_faq_encoder(Settings(), fallback=OnnxEncoder())
    assert isinstance(encoder, OnnxEncoder)
    assert encoder.name.startswith("all-minilm-l6-v2-int8@")
    assert Settings().faq_encoder_dir == STOCK_ENCODER_DIR


def test_without_the_stock_export_the_classifier_encoder_answers_and_a_warning_says_so(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    tuned = OnnxEncoder(model_dir=DEFAULT_ENCODER_DIR)
    settings = Settings(faq_encoder_dir=tmp_path / "missing")
    assert build_faq_encoder(settings, fallback=tuned) is tuned
    assert "FAQ matching falls back to the moderation encoder" in caplog.text


def test_without_the_stock_export_a_rules_only_process_answers_on_the_packaged_encoder(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    encoder = build_faq_encoder(Settings(classifier="rules", faq_encoder_dir=tmp_path / "missing"))
    assert isinstance(encoder, OnnxEncoder)
    assert encoder.name.startswith("modtriage-minilm-l6-moderation-int8@")
    assert "FAQ matching falls back to the moderation encoder" in caplog.text


def test_without_any_encoder_start_up_stops(tmp_path: Path) -> None:
    missing = Settings(faq_encoder_dir=tmp_path / "missing", encoder_dir=tmp_path / "none")
    with pytest.raises(ConfigError, match="MODTRIAGE_ENCODER_DIR: no sentence encoder"):
        build_faq_encoder(missing)
