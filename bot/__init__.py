"""modtriage: content moderation and triage for Slack and Discord, small model first."""

from __future__ import annotations

from bot.action import Action
from bot.case import Case, CaseEvent, CaseStatus
from bot.classification import Classification, FaqMatch
from bot.errors import (
    ActionError,
    ClassifierError,
    ClassifierTimeout,
    ConfigError,
    MalformedMessage,
    ModtriageError,
    PolicyError,
    StoreUnavailable,
)
from bot.message import Author, Message
from bot.policy import Policy, load_policy
from bot.settings import Settings
from bot.tenant import Tenant
from bot.verdict import Evidence, Route, Verdict

__version__ = "0.1.0"

__all__ = [
    "Action",
    "ActionError",
    "Author",
    "Case",
    "CaseEvent",
    "CaseStatus",
    "Classification",
    "ClassifierError",
    "ClassifierTimeout",
    "ConfigError",
    "Evidence",
    "FaqMatch",
    "MalformedMessage",
    "Message",
    "ModtriageError",
    "Policy",
    "PolicyError",
    "Route",
    "Settings",
    "StoreUnavailable",
    "Tenant",
    "Verdict",
    "__version__",
    "load_policy",
]
