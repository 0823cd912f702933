"""Escalation of hard cases to a frontier model: redacted, budgeted, cached and recorded."""

from __future__ import annotations

from bot.escalation.answer import TOOL_NAME, AnswerSchema
from bot.escalation.budget import Reservation, SpendingBudget
from bot.escalation.build import build_escalate_stage, build_escalator
from bot.escalation.cache import AnswerCache, content_hash
from bot.escalation.context import ThreadContext
from bot.escalation.escalator import FrontierEscalator
from bot.escalation.pricing import Prices, Usage
from bot.escalation.prompt import Prompt, build_prompt, estimate_tokens, system_prompt
from bot.escalation.record import EscalationRecord, EscalationStore, Outcome
from bot.escalation.redaction import Redactor, luhn_valid
from bot.escalation.stage import UNAVAILABLE_RULE, EscalateStage, redecide

__all__ = [
    "TOOL_NAME",
    "UNAVAILABLE_RULE",
    "AnswerCache",
    "AnswerSchema",
    "EscalateStage",
    "EscalationRecord",
    "EscalationStore",
    "FrontierEscalator",
    "Outcome",
    "Prices",
    "Prompt",
    "Redactor",
    "Reservation",
    "SpendingBudget",
    "ThreadContext",
    "Usage",
    "build_escalate_stage",
    "build_escalator",
    "build_prompt",
    "content_hash",
    "estimate_tokens",
    "luhn_valid",
    "redecide",
    "system_prompt",
]
