"""Models behind the :class:`Classifier` protocol, chosen by settings."""

from __future__ import annotations

from bot.classifiers.base import Classifier
from bot.classifiers.embedded import EmbeddedClassifier, find_heads
from bot.classifiers.encoder import Encoder
from bot.classifiers.heads import Heads
from bot.classifiers.onnx_encoder import OnnxEncoder
from bot.classifiers.rules_only import RulesOnlyClassifier
from bot.errors import ConfigError
from bot.policy import Policy
from bot.settings import Settings

__all__ = [
    "Classifier",
    "EmbeddedClassifier",
    "Encoder",
    "Heads",
    "OnnxEncoder",
    "RulesOnlyClassifier",
    "build_classifier",
]


def build_classifier(settings: Settings, policy: Policy) -> Classifier:
    """The classifier the settings name.

    Raises:
        ConfigError: the named classifier cannot be built here (e.g. the encoder is not
            exported yet, or the heads are missing).
    """
    if settings.classifier == "rules":
        return RulesOnlyClassifier()
    if settings.classifier == "embedded":
        encoder = OnnxEncoder(model_dir=settings.encoder_dir, threads=settings.encoder_threads)
        heads = Heads.load(find_heads(policy, settings.data_dir, settings.heads))
        return EmbeddedClassifier(encoder=encoder, heads=heads, policy=policy)
    raise ConfigError(
        f"classifier {settings.classifier!r} is not available in this build; "
        "set MODTRIAGE_CLASSIFIER=embedded or rules"
    )
