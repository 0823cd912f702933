"""The default small model: sentence encoder + calibrated per-category heads, on the CPU."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

from bot.classification import Classification
from bot.classifiers.encoder import Encoder
from bot.classifiers.heads import Heads
from bot.classifiers.windows import windows
from bot.policy import Policy

__all__ = ["PACKAGED_HEADS", "EmbeddedClassifier", "find_heads"]

log = logging.getLogger(__name__)

PACKAGED_HEADS = Path(__file__).resolve().parent / "heads" / "default"


def find_heads(policy: Policy, data_dir: Path, explicit: Path | None = None) -> Path:
    """Where the heads for ``policy`` are: ``explicit``; else the ones ``modtriage train``
    fitted for this very policy version under ``data_dir/heads/``; else the packaged heads."""
    if explicit is not None:
        return explicit
    trained = data_dir / "heads" / policy.name
    if trained.with_suffix(".json").is_file():
        heads_policy = Heads.load(trained).extra.get("policy_version")
        if heads_policy == policy.version:
            return trained
        log.warning(
            "heads in %s were trained for another version of policy %r; using the packaged "
            "heads. Run `modtriage train --policy <file>` again.",
            trained,
            policy.name,
        )
    return PACKAGED_HEADS


class EmbeddedClassifier:
    """Implements :class:`~bot.classifiers.base.Classifier`.

    Scores only the categories the policy defines. A policy category without a trained head is
    not scored (the rules still apply to it): ``unscored`` names them, and a warning at start-up
    says to run ``modtriage train --policy <file>``.

    A text longer than 120 characters is read whole and through short windows at both ends
    (:mod:`bot.classifiers.windows`), all in the same encoder call; each category keeps its
    highest score.
    """

    def __init__(self, *, encoder: Encoder, heads: Heads, policy: Policy) -> None:
        self._encoder = encoder
        self._heads = heads
        self._columns = [(j, c) for j, c in enumerate(heads.categories) if c in policy.categories]
        self.categories = tuple(policy.categories)
        self.unscored = tuple(c for c in policy.categories if c not in heads.categories)
        self.name = f"embedded:{encoder.name}+heads@{heads.revision}"
        if heads.encoder_sha256 != getattr(encoder, "sha256", heads.encoder_sha256):
            log.warning(
                "heads %s were fitted on another encoder export; scores may drift. "
                "Run `modtriage train`.",
                heads.revision,
            )
        if self.unscored:
            log.warning(
                "no trained head for %s: the model will not score them (rules still apply). "
                "Run `modtriage train --policy <file>` to fit them from the policy's examples.",
                ", ".join(self.unscored),
            )

    @property
    def heads(self) -> Heads:
        return self._heads

    def for_policy(self, policy: Policy, data_dir: Path) -> EmbeddedClassifier:
        """The classifier for another policy (a tenant's own, a new version) on the same
        encoder, scoring that policy's categories: with the heads ``modtriage train`` fitted
        for that very version under ``data_dir`` when there are some, else with these heads.
        Itself when nothing would change."""
        found = find_heads(policy, data_dir)
        heads = self._heads if found == PACKAGED_HEADS else Heads.load(found)
        if heads.revision == self._heads.revision and tuple(policy.categories) == self.categories:
            return self
        return EmbeddedClassifier(encoder=self._encoder, heads=heads, policy=policy)

    @property
    def encoder(self) -> Encoder:
        """The sentence encoder, shared with FAQ matching so a worker loads one model."""
        return self._encoder

    async def classify(self, texts: Sequence[str]) -> list[Classification]:
        """Raises ClassifierError when the encoder fails."""
        if not texts:
            return []
        readings = [windows(text) for text in texts]
        vectors = await self._encoder.embed([w for reading in readings for w in reading])
        scores = self._heads.scores(vectors)
        out, start = [], 0
        for reading in readings:
            top = scores[start : start + len(reading)].max(axis=0)
            start += len(reading)
            out.append(
                Classification(
                    scores={c: round(float(top[j]), 4) for j, c in self._columns}, model=self.name
                )
            )
        return out
