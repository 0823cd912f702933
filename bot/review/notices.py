"""The actions a case leads to, with the words the member reads.

Every action the review service emits has an id ``case-<case id>-<what>``: stable, so the
dispatcher performs it once however often it is delivered, and recognisable, so shadow mode
(which silences automatic actions) lets moderators' own decisions through.
"""

from __future__ import annotations

from typing import Any

from bot.action import (
    Action,
    BanUser,
    DeleteMessage,
    KickUser,
    LiftSanction,
    NotifyModerators,
    TimeoutUser,
    WarnUser,
)
from bot.case import Case
from bot.notice_template import human_duration
from bot.policy import Policy, StrikeStep

__all__ = ["ACTION_ID_PREFIX", "ActionFactory", "human_duration"]

ACTION_ID_PREFIX = "case-"
_QUOTE_CHARS = 300


def _quote(text: str) -> str:
    return text if len(text) <= _QUOTE_CHARS else text[: _QUOTE_CHARS - 1] + "…"


class ActionFactory:
    """Builds the actions for one case."""

    def __init__(self, *, case: Case, policy: Policy) -> None:
        self._case = case
        self._policy = policy
        message = case.message
        self._common: dict[str, Any] = {
            "platform": message.platform,
            "workspace": message.workspace,
            "channel": message.channel,
            "message_id": message.id,
            "user_id": message.author.id,
            "message_key": message.key,
            "case_id": case.id,
        }

    def _id(self, what: str) -> str:
        return f"{ACTION_ID_PREFIX}{self._case.id}-{what}"

    def rule_text(self, category: str | None) -> str:
        if category is None or category not in self._policy.categories:
            return "this community's rules"
        first = self._policy.categories[category].description.split(". ")[0].rstrip(".")
        return f"the rule '{category}' ({first})"

    def delete(self, step: str, reason: str) -> DeleteMessage:
        return DeleteMessage(id=self._id(f"{step}-delete"), reason=reason, **self._common)

    def notice(self, step: str, text: str, reason: str) -> WarnUser:
        """A private message to the member, quoting their own message."""
        return WarnUser(
            id=self._id(f"{step}-notice"),
            text=text,
            quote=_quote(self._case.message.text),
            reason=reason,
            **self._common,
        )

    def sanction(
        self, step: str, kind: str, reason: str, duration_s: int | None = None
    ) -> Action | None:
        if kind == "timeout":
            return TimeoutUser(
                id=self._id(f"{step}-timeout"),
                duration_s=duration_s or 3600,
                reason=reason,
                **self._common,
            )
        if kind == "kick":
            return KickUser(id=self._id(f"{step}-kick"), reason=reason, **self._common)
        if kind == "ban":
            return BanUser(id=self._id(f"{step}-ban"), reason=reason, **self._common)
        return None

    def notify_moderators(self, step: str, text: str, reason: str) -> NotifyModerators:
        return NotifyModerators(id=self._id(step), text=text, reason=reason, **self._common)

    def lift(self, step: str, sanction: str, reason: str) -> LiftSanction:
        return LiftSanction(
            id=self._id(f"{step}-lift-{sanction}"),
            sanction="ban" if sanction == "ban" else "timeout",
            reason=reason,
            **self._common,
        )

    def ladder(self, step: StrikeStep) -> tuple[str, list[Action]]:
        """The explanation and actions for reaching one step of the strike ladder."""
        window = human_duration(self._policy.strikes.window)
        what = {
            "timeout": f"a {human_duration(step.duration or 3600)} timeout",
            "kick": "removal from the community",
            "ban": "a ban",
        }[step.action]
        why = f"{step.points} strike points in {window} -> {what}"
        text = (
            f"Case {self._case.id}: you have reached {step.points} strike points within "
            f"{window}. Under this community's rules that means {what}. Strikes expire after "
            f"{window}. You can appeal case {self._case.id}."
        )
        actions: list[Action] = [self.notice(f"strike{step.points}", text, why)]
        sanction = self.sanction(f"strike{step.points}", step.action, why, step.duration)
        if sanction is not None:
            actions.append(sanction)
        return why, actions
