"""What the pipeline decided about one message, and why."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from bot.classification import Classification

__all__ = ["Evidence", "Route", "Verdict"]


class Route(StrEnum):
    """Where a message goes. Ordered: a later route outranks an earlier one."""

    ALLOW = "allow"
    REVIEW = "review"
    ESCALATE = "escalate"
    ACT = "act"

    @property
    def rank(self) -> int:
        return list(Route).index(self)


class Evidence(BaseModel):
    """One reason behind a verdict: a rule that fired or a score over a threshold."""

    model_config = ConfigDict(frozen=True)

    category: str
    rule: str = Field(description="e.g. 'deny:slur', 'link:invite', 'flood', 'model:toxicity'")
    score: float = Field(ge=0.0, le=1.0)
    route: Route
    matched: str | None = Field(default=None, description="the words or link that matched")
    span: tuple[int, int] | None = None
    note: str | None = Field(
        default=None,
        description="why the route is not the score's band, e.g. 'language fr is not handled'",
    )

    def explain(self) -> str:
        what = f" on {self.matched!r}" if self.matched else ""
        note = f"; {self.note}" if self.note else ""
        return f"{self.category} ({self.rule}{what}, score {self.score:.2f}{note})"


class Verdict(BaseModel):
    """The decision for one message: route, category, the stage and model behind it."""

    model_config = ConfigDict(frozen=True)

    message_key: str
    route: Route
    category: str | None = None
    stage: str = Field(description="the stage whose evidence decided: 'rules', 'classify', ...")
    model: str | None = None
    evidence: tuple[Evidence, ...] = ()
    classification: Classification | None = None
    action_ids: tuple[str, ...] = ()
    action_types: tuple[str, ...] = Field(
        default=(), description="the type of each action in action_ids (delete, warn, ...)"
    )
    shadow: bool = False
    degraded: bool = False
    policy_version: str = ""
    decided_at: datetime = Field(default_factory=lambda: datetime.now(UTC))

    def explain(self) -> str:
        """One line a moderator or member can read."""
        if not self.evidence:
            return "no rule or category fired"
        return "; ".join(e.explain() for e in self.evidence)
