"""Models behind the :class:`Classifier` protocol, chosen by settings."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from bot.classifiers.base import Classifier
from bot.classifiers.breaker import CircuitBreaker, CircuitState
from bot.classifiers.cascade import CascadeClassifier, CascadeMode
from bot.classifiers.embedded import EmbeddedClassifier, find_heads
from bot.classifiers.encoder import Encoder
from bot.classifiers.heads import Heads
from bot.classifiers.onnx_encoder import DEFAULT_ENCODER_DIR, STOCK_ENCODER_DIR, OnnxEncoder
from bot.classifiers.retry import RetryPolicy
from bot.classifiers.rules_only import RulesOnlyClassifier
from bot.classifiers.vllm_classifier import VllmClassifier
from bot.classifiers.vllm_encoder import VllmEncoder
from bot.classifiers.vllm_prompt import PromptFormat
from bot.errors import ConfigError
from bot.policy import Policy
from bot.settings import Settings

if TYPE_CHECKING:
    from openai import AsyncOpenAI

    from bot.metrics import Metrics

log = logging.getLogger(__name__)

__all__ = [
    "CascadeClassifier",
    "CascadeMode",
    "CircuitBreaker",
    "CircuitState",
    "Classifier",
    "EmbeddedClassifier",
    "Encoder",
    "Heads",
    "OnnxEncoder",
    "PromptFormat",
    "RetryPolicy",
    "RulesOnlyClassifier",
    "VllmClassifier",
    "VllmEncoder",
    "build_classifier",
    "build_encoder",
    "build_faq_encoder",
    "onnx_encoder",
]


def build_classifier(
    settings: Settings, policy: Policy, *, metrics: Metrics | None = None
) -> Classifier:
    """The classifier the settings name.

    Raises:
        ConfigError: the named classifier cannot be built here (e.g. the encoder is not
            exported yet, or the heads are missing).
    """
    if settings.classifier == "rules":
        return RulesOnlyClassifier()
    if settings.classifier == "embedded":
        encoder = onnx_encoder(settings)
        heads = Heads.load(find_heads(policy, settings.data_dir, settings.heads))
        return EmbeddedClassifier(encoder=encoder, heads=heads, policy=policy)
    if settings.classifier == "vllm":
        return _vllm_classifier(settings, policy, metrics)
    raise ConfigError(
        f"classifier {settings.classifier!r} is not available in this build; "
        "set MODTRIAGE_CLASSIFIER=embedded or rules"
    )


def onnx_encoder(settings: Settings, *, threads: int | None = None) -> OnnxEncoder:
    """The in-process encoder at ``settings.encoder_dir`` (``threads``: the settings' unless
    given).

    Raises:
        ConfigError: that folder holds no encoder; the message names MODTRIAGE_ENCODER_DIR and
            the fix (unset it, or ``make encoder``).
    """
    where = settings.encoder_dir
    if not (where / "encoder.json").is_file():
        first = (
            "reinstall the package"
            if where == DEFAULT_ENCODER_DIR
            else "unset it for the one shipped in the package"
        )
        raise ConfigError(
            f"setting MODTRIAGE_ENCODER_DIR: no sentence encoder in {where} (encoder.json, "
            f"model.onnx, tokenizer.json); {first}, or run `make encoder` and set it to "
            f"{STOCK_ENCODER_DIR}"
        )
    return OnnxEncoder(
        model_dir=where,
        threads=threads or settings.encoder_threads,
        precision=settings.encoder_precision,
    )


def build_encoder(settings: Settings) -> Encoder:
    """The sentence encoder the settings name: in-process ONNX, or the same model on vLLM.

    Raises:
        ConfigError: the ONNX export is missing (run ``make encoder``).
    """
    if settings.encoder == "vllm":
        return VllmEncoder(
            client=_client(settings, settings.vllm_embeddings_url),
            model=settings.vllm_embeddings_model,
            retry=RetryPolicy(attempts=settings.vllm_retries + 1),
            breaker=CircuitBreaker(
                failures=settings.vllm_breaker_failures, reset_after_s=settings.vllm_breaker_reset_s
            ),
        )
    return onnx_encoder(settings)


def build_faq_encoder(settings: Settings, *, fallback: Encoder | None = None) -> Encoder:
    """The encoder FAQ matching runs on: ``settings.faq_encoder_dir`` (the stock
    all-MiniLM-L6-v2 int8 export, in the package when it was built after ``make encoder``).
    On BANKING77-OOS dev (``modtriage eval faq``) it answers 52 % of covered questions at 0.89
    precision, the moderation-tuned encoder 39 % at 0.90, so questions get a second, stock
    pass (only messages that look like questions reach it). When that export is missing, the
    moderation encoder answers: ``fallback`` (the classifier's), else the settings' (the
    fine-tuned one always ships in the package, so a rules-only worker answers FAQs too); a
    warning says so.

    Raises:
        ConfigError: neither the FAQ encoder nor the moderation encoder can be built.
    """
    if settings.faq_encoder_dir is not None:
        try:
            return OnnxEncoder(model_dir=settings.faq_encoder_dir, threads=settings.encoder_threads)
        except ConfigError as exc:
            log.warning(
                "FAQ matching falls back to the moderation encoder, which answers fewer "
                "questions (run `make encoder` before building the package, or set "
                "MODTRIAGE_FAQ_ENCODER_DIR): %s",
                exc,
            )
    return fallback if fallback is not None else build_encoder(settings)


def _client(settings: Settings, base_url: str) -> AsyncOpenAI:
    from openai import AsyncOpenAI  # lazy: only the vLLM path needs the SDK loaded

    key = settings.vllm_api_key.get_secret_value() if settings.vllm_api_key else "EMPTY"
    # retries are ours (jitter, circuit breaker), so the SDK's own are off
    return AsyncOpenAI(
        base_url=base_url, api_key=key, max_retries=0, timeout=settings.vllm_timeout_s
    )


def _vllm_classifier(settings: Settings, policy: Policy, metrics: Metrics | None) -> Classifier:
    if settings.vllm_cascade == "uncertain" and settings.vllm_fallback == "rules":
        raise ConfigError(
            "vllm_cascade='uncertain' asks the LLM only where the embedded model is unsure, so "
            "it needs vllm_fallback='embedded'; or set MODTRIAGE_VLLM_CASCADE=every"
        )
    first: Classifier = (
        RulesOnlyClassifier()
        if settings.vllm_fallback == "rules"
        else build_classifier(settings.model_copy(update={"classifier": "embedded"}), policy)
    )
    llm = VllmClassifier(
        client=_client(settings, settings.vllm_url),
        model=settings.vllm_model,
        policy=policy,
        prompt_format=PromptFormat(settings.vllm_prompt_format),
        max_concurrency=settings.vllm_max_concurrency,
        retry=RetryPolicy(attempts=settings.vllm_retries + 1),
        breaker=CircuitBreaker(
            failures=settings.vllm_breaker_failures, reset_after_s=settings.vllm_breaker_reset_s
        ),
        invalid=metrics.classifier_invalid if metrics else None,
    )
    return CascadeClassifier(
        first=first,
        second=llm,
        policy=policy,
        mode=settings.vllm_cascade,
        fallbacks=metrics.classifier_fallbacks if metrics else None,
    )
