"""FAQ answers from text moderators approved, with a hand-off for everything else."""

from __future__ import annotations

from bot.faq.channels import FaqChannels
from bot.faq.cooldown import ThreadCooldown
from bot.faq.entries import FaqEntry, FaqFile, append_entry, load_faqs
from bot.faq.evaluation import FaqEvalReport, FaqRow, evaluate, read_faq_rows
from bot.faq.feedback import FaqFeedback, FeedbackCount
from bot.faq.gate import GateChoice
from bot.faq.handoffs import Asked, HandoffLog
from bot.faq.keys import FaqKeys
from bot.faq.matcher import FaqCandidate, FaqDecision, FaqIndex, FaqMatcher, MatchSettings
from bot.faq.questions import looks_like_question
from bot.faq.stage import FaqStage
from bot.faq.suggestions import FaqSuggestion, SuggestionBook, propose
from bot.faq.trained import TrainedRecord, build_faq_matcher, find_trained

__all__ = [
    "Asked",
    "FaqCandidate",
    "FaqChannels",
    "FaqDecision",
    "FaqEntry",
    "FaqEvalReport",
    "FaqFeedback",
    "FaqFile",
    "FaqIndex",
    "FaqKeys",
    "FaqMatcher",
    "FaqRow",
    "FaqStage",
    "FaqSuggestion",
    "FeedbackCount",
    "GateChoice",
    "HandoffLog",
    "MatchSettings",
    "SuggestionBook",
    "ThreadCooldown",
    "TrainedRecord",
    "append_entry",
    "build_faq_matcher",
    "evaluate",
    "find_trained",
    "load_faqs",
    "looks_like_question",
    "propose",
    "read_faq_rows",
]
