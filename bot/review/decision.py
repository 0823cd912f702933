"""A moderator's decision on a case."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["MAX_TIMEOUT_S", "Decision", "DecisionKind"]

#: The longest timeout: Discord's limit (28 days); Slack has no timeouts of its own.
MAX_TIMEOUT_S = 28 * 24 * 3600

DecisionKind = Literal["remove", "dismiss", "warn", "timeout", "kick", "ban", "overturn", "uphold"]


class Decision(BaseModel):
    """What a moderator decided.

    On an open case: ``remove`` (delete + notice), ``warn`` (notice only), ``timeout``, ``kick``
    or ``ban`` (delete + notice + sanction), or ``dismiss`` (no violation). On an actioned case:
    ``overturn`` (undo what the platform allows). On an appealed case: ``overturn`` (appeal
    granted) or ``uphold`` (appeal refused). ``category`` corrects the case's category (and the
    labelled example kept for retraining).
    """

    model_config = ConfigDict(frozen=True)

    kind: DecisionKind
    reason: str = Field(default="", max_length=2000)
    duration_s: int | None = Field(default=None, gt=0, le=MAX_TIMEOUT_S)
    category: str | None = Field(default=None, pattern=r"^[a-z][a-z0-9_]*$")

    def said(self, template: str) -> str:
        """``template`` with the moderator's reason in it (``{reason}``); empty without one."""
        return template.format(reason=self.reason) if self.reason else ""
