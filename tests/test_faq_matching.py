"""FAQ matching with the real packaged encoder (all-MiniLM-L6-v2 through onnxruntime)."""

from __future__ import annotations

import numpy as np
import pytest

from bot.classifiers.onnx_encoder import STOCK_ENCODER_DIR, OnnxEncoder
from bot.faq.entries import FaqEntry, FaqFile, load_faqs
from bot.faq.matcher import FaqIndex, FaqMatcher, MatchSettings
from tests.conftest import ROOT

SAMPLE = ROOT / "bot" / "policies" / "faq.yaml"


@pytest.fixture(scope="module")
def encoder() -> OnnxEncoder:
    return OnnxEncoder(model_dir=STOCK_ENCODER_DIR)  # the FAQ encoder the bot uses


@pytest.fixture(scope="module")
def matcher(encoder: OnnxEncoder) -> FaqMatcher:
    return FaqMatcher(faqs=load_faqs(SAMPLE), encoder=encoder)


@pytest.mark.parametrize(
    ("question", "entry"),
    [
        # no example says "interpreter" or "releases"
        ("which interpreter releases can I run this on", "python_versions"),
        # nor "setup step", "ubuntu" or "what do I need"
        ("the setup step fails on ubuntu, what do I need?", "install"),
        ("where should I send details of a vulnerability so it is not public", "security_report"),
    ],
)
async def test_a_covered_question_phrased_unlike_the_examples_is_answered(
    matcher: FaqMatcher, question: str, entry: str
) -> None:
    faqs = matcher.faqs
    assert question not in {q for e in faqs.faqs for q in e.questions}
    [decision] = await matcher.match([question])
    assert decision.faq_id == entry, decision.reason
    assert decision.reason.startswith(f"answer {entry}")
    assert len(decision.candidates) == 3
    assert decision.candidates[0].confidence >= matcher.settings.min_confidence


@pytest.mark.parametrize(
    "question",
    [
        # software questions in the same community that no entry answers
        "how do I change the default port of the dev server?",
        "does it support async database drivers?",
        "how do I configure the logging verbosity?",
        # and something from elsewhere entirely
        "what's the best pizza in town?",
    ],
)
async def test_a_question_no_entry_answers_is_handed_off(
    matcher: FaqMatcher, question: str
) -> None:
    [decision] = await matcher.match([question])
    assert decision.faq_id is None
    assert decision.reason.startswith("handed off")
    assert decision.best is not None  # the top three are still shown to moderators


async def test_the_floor_is_calibrated_per_file_and_an_absolute_one_wins(
    encoder: OnnxEncoder,
) -> None:
    faqs = load_faqs(SAMPLE)
    calibrated = await FaqMatcher(faqs=faqs, encoder=encoder).prepare()
    assert 0.4 < calibrated.min_similarity < 0.7
    strict = FaqMatcher(faqs=faqs, encoder=encoder, settings=MatchSettings(min_similarity=0.95))
    [decision] = await strict.match(["which interpreter releases can I run this on"])
    assert decision.faq_id is None
    assert "similarity" in decision.reason
    assert "< 0.95" in decision.reason


async def test_two_close_entries_make_an_ambiguous_question_a_hand_off(
    encoder: OnnxEncoder,
) -> None:
    faqs = FaqFile(
        path="two.yaml",
        faqs=(
            FaqEntry(
                id="top_up_failed",
                questions=("my top up failed", "the top-up did not work", "top up declined"),
                answer="Check the card details and try again.",
            ),
            FaqEntry(
                id="top_up_pending",
                questions=("my top up is pending", "top-up still processing", "top up not done"),
                answer="Top-ups can take up to an hour.",
            ),
        ),
    )
    matcher = FaqMatcher(faqs=faqs, encoder=encoder, settings=MatchSettings(min_similarity=0.3))
    [clear, unclear] = await matcher.match(["my top up is still pending", "what about my top up"])
    assert clear.faq_id == "top_up_pending"
    assert unclear.faq_id is None
    assert "ambiguous" in unclear.reason


def test_an_empty_faq_answers_nothing() -> None:
    index = FaqIndex(entries=(), vectors=np.zeros((0, 384)), settings=MatchSettings())
    [decision] = index.decide(np.ones((1, 384)))
    assert decision.faq_id is None
