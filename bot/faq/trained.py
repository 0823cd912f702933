"""Trained FAQ matchers on disk, and the one place that picks the matcher for an FAQ file.

``modtriage faq train`` writes a folder per FAQ file *content* under the data directory,
``<data_dir>/faq-matchers/<version>/`` (``version``: the first 12 hex digits of the file's
sha256, :attr:`~bot.faq.entries.FaqFile.version`): the fine-tuned encoder as int8 ONNX
(``model.onnx``, ``tokenizer.json``, ``encoder.json``) and ``matcher.json`` (the gate chosen
for it and how it was trained). :func:`build_faq_matcher` answers with it when the folder for
the current content is there, on onnxruntime alone; any edit to the file changes the version,
so a matcher trained for other questions is never used, and the closed-form matcher on the
stock encoder answers until the file is trained again.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from bot.classifiers.encoder import Encoder
from bot.errors import ConfigError
from bot.faq.entries import FaqFile
from bot.faq.gate import GateChoice
from bot.faq.matcher import FaqMatcher, MatchSettings
from bot.policy import FaqSettings

__all__ = [
    "MATCHERS_DIR",
    "TrainedRecord",
    "build_faq_matcher",
    "find_trained",
    "matcher_dir",
    "save_record",
]

#: Under the data directory: one folder per trained FAQ file version.
MATCHERS_DIR = "faq-matchers"
_RECORD = "matcher.json"


class TrainedRecord(BaseModel):
    """``matcher.json``: what a trained matcher answers with and how it was made."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    faq_version: str
    faq_file: str
    entries: int
    questions: int
    min_similarity: float = Field(description="the gate's similarity floor (calibrated)")
    min_confidence: float = Field(description="the gate's confidence floor (calibrated)")
    calibration: GateChoice
    recipe: dict[str, object]
    trained_at: str
    seconds: float


def matcher_dir(data_dir: Path, faqs: FaqFile) -> Path:
    """Where the trained matcher of this content of the file lives (whether or not it does)."""
    return data_dir / MATCHERS_DIR / faqs.version


def save_record(folder: Path, record: TrainedRecord) -> None:
    """Write ``matcher.json`` last, so a folder without it (training died) is never used."""
    (folder / _RECORD).write_text(record.model_dump_json(indent=2) + "\n", encoding="utf-8")


def new_record(
    faqs: FaqFile, gate: GateChoice, recipe: dict[str, object], seconds: float
) -> TrainedRecord:
    """The record of a matcher just trained for ``faqs``."""
    return TrainedRecord(
        faq_version=faqs.version,
        faq_file=Path(faqs.path).name,
        entries=len(faqs.faqs),
        questions=sum(len(e.questions) for e in faqs.faqs),
        min_similarity=gate.min_similarity,
        min_confidence=gate.min_confidence,
        calibration=gate,
        recipe=recipe,
        trained_at=datetime.now(UTC).isoformat(timespec="seconds"),
        seconds=seconds,
    )


def find_trained(data_dir: Path, faqs: FaqFile) -> TrainedRecord | None:
    """The trained matcher's record for exactly this content of the file, or None.

    Raises:
        ConfigError: the folder is there but its record is unreadable (names the folder and
            the fix: train again, or delete it).
    """
    path = matcher_dir(data_dir, faqs) / _RECORD
    if not path.is_file():
        return None
    try:
        record = TrainedRecord.model_validate(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError, ValidationError) as exc:
        raise ConfigError(
            f"{path}: unreadable trained FAQ matcher ({exc}); run `modtriage faq train` again "
            f"or delete {path.parent}"
        ) from exc
    if record.faq_version != faqs.version:
        raise ConfigError(
            f"{path}: trained for FAQ version {record.faq_version}, found under "
            f"{faqs.version}; delete {path.parent} and run `modtriage faq train`"
        )
    return record


def build_faq_matcher(
    *,
    faqs: FaqFile,
    data_dir: Path | None,
    encoder: Callable[[], Encoder],
    thresholds: FaqSettings | None = None,
    threads: int = 1,
) -> FaqMatcher:
    """The trained matcher for this content of ``faqs`` when ``data_dir`` holds one, else the
    closed-form matcher on ``encoder()`` (called only then).

    ``thresholds``: the policy's ``faq`` section; a threshold it sets wins over the default,
    the closed-form one or the trained matcher's calibrated one.

    Raises:
        ConfigError: a trained matcher for this version is there but cannot be loaded, or the
            encoder cannot be built.
    """
    record = find_trained(data_dir, faqs) if data_dir is not None else None
    if record is None:
        match = MatchSettings.from_policy(thresholds) if thresholds else MatchSettings()
        return FaqMatcher(faqs=faqs, encoder=encoder(), settings=match)
    from bot.classifiers.onnx_encoder import OnnxEncoder

    chosen = {"min_similarity": record.min_similarity, "min_confidence": record.min_confidence}
    if thresholds is not None:
        if thresholds.min_similarity is not None:
            chosen["min_similarity"] = thresholds.min_similarity
        if thresholds.min_confidence is not None:
            chosen["min_confidence"] = thresholds.min_confidence
    return FaqMatcher(
        faqs=faqs,
        encoder=OnnxEncoder(model_dir=matcher_dir(data_dir or Path(), faqs), threads=threads),
        settings=MatchSettings(**chosen),
        label=f"trained:{faqs.version}",
    )
