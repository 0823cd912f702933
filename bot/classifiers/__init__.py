"""Models behind the :class:`Classifier` protocol, chosen by settings."""

from __future__ import annotations

from bot.classifiers.base import Classifier
from bot.classifiers.encoder import Encoder
from bot.classifiers.onnx_encoder import OnnxEncoder
from bot.classifiers.rules_only import RulesOnlyClassifier
from bot.errors import ConfigError
from bot.policy import Policy
from bot.settings import Settings

__all__ = ["Classifier", "Encoder", "OnnxEncoder", "RulesOnlyClassifier", "build_classifier"]


def build_classifier(settings: Settings, policy: Policy) -> Classifier:
    """The classifier the settings name.

    Raises:
        ConfigError: the named classifier cannot be built here.
    """
    del policy  # models fitted to a policy's categories use it
    if settings.classifier == "rules":
        return RulesOnlyClassifier()
    raise ConfigError(
        f"classifier {settings.classifier!r} is not available in this build; "
        "set MODTRIAGE_CLASSIFIER=rules"
    )
