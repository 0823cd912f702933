"""Cases, the review queue, strikes and appeals: one platform-free moderation service."""

from __future__ import annotations

from bot.review.actor import Actor
from bot.review.decision import Decision, DecisionKind
from bot.review.interface import Moderation
from bot.review.opinion import Opinion
from bot.review.service import ModerationService

__all__ = ["Actor", "Decision", "DecisionKind", "Moderation", "ModerationService", "Opinion"]


def _conforms(service: ModerationService) -> Moderation:
    """Never called: mypy checks here that the service satisfies the protocol."""
    return service
