"""What adapters and the CLI may ask of the moderation service.

The concrete :class:`bot.review.service.ModerationService` satisfies this protocol; adapters
type against it so that they stay thin: parse, call one operation, render the result.
Every operation checks permissions itself and raises :class:`~bot.errors.ReviewError`
subclasses (``PermissionDenied``, ``CaseNotFound``, ``CaseConflict``) with a message that is
safe to show the person who asked.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal, Protocol

from bot.action import Action
from bot.alerts import AlertRoute
from bot.case import Case
from bot.faq.entries import FaqEntry
from bot.faq.suggestions import FaqSuggestion
from bot.insights.backtest import BacktestReport
from bot.insights.drift import DriftReport
from bot.insights.shadow_report import ShadowReport
from bot.insights.summary import ThreadSummary
from bot.message import Message
from bot.pipeline.assessment import Assessment
from bot.policy import Policy
from bot.review.actor import Actor
from bot.review.decision import Decision
from bot.review.opinion import Opinion
from bot.review.setup_desk import ChannelSetting
from bot.review.toolkit import DirectModeration
from bot.stats import Stats
from bot.tenant import Tenant
from bot.verdict import Verdict

__all__ = ["Moderation"]


class Moderation(DirectModeration, Protocol):
    async def queue(self, actor: Actor, *, limit: int = 10) -> list[Case]:
        """Open cases waiting for review, oldest first."""
        ...

    async def case(self, actor: Actor, case_id: str) -> Case: ...

    async def claim(self, actor: Actor, case_id: str) -> Case:
        """Take a case; a second moderator gets CaseConflict."""
        ...

    async def decide(
        self, actor: Actor, case_id: str, decision: Decision
    ) -> tuple[Case, list[Action]]:
        """Record the decision and return the actions the adapter must execute."""
        ...

    async def history(self, actor: Actor, user_id: str, *, limit: int = 20) -> list[Case]: ...

    async def stats(self, actor: Actor, *, days: int = 7) -> Stats:
        """The tenant's numbers over the last ``days`` UTC days."""
        ...

    async def shadow_report(self, actor: Actor, *, days: int = 7) -> ShadowReport:
        """What shadow mode would have done over the last ``days`` UTC days."""
        ...

    async def score_drift(self, actor: Actor) -> DriftReport:
        """The tenant's model scores today against the days before, per category."""
        ...

    async def backtest(
        self,
        actor: Actor,
        *,
        candidate: bytes | None = None,
        filename: str = "candidate.yaml",
        version: str | None = None,
        days: int = 30,
    ) -> BacktestReport:
        """What a candidate policy (a file's bytes or a stored version) would have done."""
        ...

    async def summarise(
        self, actor: Actor, messages: Sequence[Message], *, case_id: str | None = None
    ) -> ThreadSummary:
        """The gist of a thread (and of a case's message with it), every text redacted."""
        ...

    async def test(self, actor: Actor, text: str) -> Verdict:
        """Decide a text under the current policy without acting or recording."""
        ...

    async def preview(self, actor: Actor, text: str) -> Assessment:
        """What ``test`` decides, with the actions the pipeline would emit (FAQ reply too)."""
        ...

    async def ask(self, actor: Actor, message: Message) -> Opinion:
        """The frontier model's opinion on an existing message with its thread, recorded on
        its case (a case is opened when the answer calls for review or action)."""
        ...

    async def policy_of(self, tenant: Tenant) -> Policy:
        """The tenant's current policy (adapters read it per event). Raises RedisError."""
        ...

    async def reload_policy(self, actor: Actor) -> str:
        """Reload the policy file; returns the new version. A bad file keeps the old one."""
        ...

    async def set_shadow(
        self, actor: Actor, on: bool, *, channel: str | None = None, category: str | None = None
    ) -> None:
        """Shadow mode on or off at run time: everywhere, or for one channel or category."""
        ...

    async def set_alerts(self, actor: Actor, *, channel: str, role: str | None) -> AlertRoute:
        """Alerts go to this channel, pinging this role (ids), in the actor's tenant."""
        ...

    async def alerts_of(self, tenant: Tenant) -> AlertRoute | None:
        """Where moderators set the tenant's alerts to go (None: not set). Raises RedisError."""
        ...

    async def switch_channel(
        self, actor: Actor, channel: str, setting: ChannelSetting, on: bool
    ) -> None:
        """Shadow mode or FAQ answers on or off in one channel, for every worker."""
        ...

    async def show_policy(self, actor: Actor, category: str | None = None) -> list[str]:
        """The tenant's current policy in plain lines, or one category in full."""
        ...

    async def suggest_faq(self, actor: Actor, *, days: int = 7) -> list[FaqSuggestion]:
        """New FAQ entries from the questions members kept asking that no entry answered."""
        ...

    async def accept_faq(
        self,
        actor: Actor,
        suggestion_id: str,
        *,
        answer: str | None = None,
        faq_id: str | None = None,
    ) -> FaqEntry:
        """Add a suggestion to the workspace's FAQ file; the next such question is answered."""
        ...

    async def report(self, reporter: Actor, message: Message, note: str = "") -> Case:
        """A member reports a message: it lands in the queue."""
        ...

    async def appeal(self, member: Actor, case_id: str, text: str) -> Case:
        """The member whose message a case concerns appeals; it lands in the queue."""
        ...

    async def record_outcome(
        self,
        action: Action,
        state: Literal["performed", "failed", "shadow", "unknown"],
        detail: str = "",
    ) -> None:
        """Called by the action dispatcher: note on the case what became of an action."""
        ...

    async def shadowed(self, action: Action) -> bool:
        """Called by the action dispatcher: skip this automatic action (shadow mode)?"""
        ...
