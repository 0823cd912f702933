"""What shadow mode would have done: the cases it opened over a window, and how the
moderators who handled them decided. Pure: fed the tenant's cases by the service
(:meth:`bot.review.service.ModerationService.shadow_report`).

A case opened in shadow mode carries ``shadow: true``; the automatic actions it held back are
its action records in state ``shadow``. A moderator's latest decision on such a case agrees
with the bot when it holds the message against the rules (``remove``, ``warn``, ``timeout``,
``kick``, ``ban``, or ``uphold`` on appeal, whatever category they name) and disagrees when it
does not (``dismiss``, or ``overturn`` of an earlier decision).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import date

from pydantic import BaseModel, ConfigDict, Field

from bot.case import Case

__all__ = ["AGREE", "DISAGREE", "CategoryShadow", "ShadowExample", "ShadowReport", "shadow_report"]

AGREE = frozenset({"remove", "warn", "timeout", "kick", "ban", "uphold"})
DISAGREE = frozenset({"dismiss", "overturn"})
_EXAMPLES = 10
_QUOTE = 200


class CategoryShadow(BaseModel):
    """One category's shadow cases."""

    model_config = ConfigDict(frozen=True)

    cases: int
    handled: int = Field(description="cases a moderator decided")
    agreed: int
    disagreed: int


class ShadowExample(BaseModel):
    """One shadow case, for people to look at."""

    model_config = ConfigDict(frozen=True)

    case_id: str
    category: str | None
    route: str = Field(description="the verdict's route: act, escalate or review")
    would: list[str] = Field(description="the actions shadow mode held back, by type")
    decision: str | None = Field(description="the moderator's latest decision, if any")
    agreed: bool | None = Field(description="None while no moderator decided")
    text: str = Field(description=f"the message's first {_QUOTE} characters")
    channel: str
    message_id: str = Field(description="the platform's id of the message (a Slack ts)")
    link: str | None = Field(description="the message's permalink, when the platform gave one")


class ShadowReport(BaseModel):
    """Exactly the JSON object ``modtriage shadow report --json`` prints (README: Shadow
    report)."""

    model_config = ConfigDict(frozen=True)

    tenant: str
    days: int
    since: date
    until: date
    cases: int = Field(description="cases opened in shadow mode in the window")
    categories: dict[str, CategoryShadow]
    routes: dict[str, int] = Field(description="cases by the verdict's route")
    actions: dict[str, int] = Field(description="actions held back, by type")
    handled: int
    agreed: int
    disagreed: int
    agreement: float = Field(description="agreed / handled (0 when none handled)")
    decisions: dict[str, int] = Field(description="moderators' latest decisions, by kind")
    examples: list[ShadowExample] = Field(
        description="up to ten, disagreements first, then newest first"
    )

    @property
    def window(self) -> str:
        """The window in words, for replies."""
        plural = "day" if self.days == 1 else f"{self.days} days"
        return f"last {plural} ({self.since.isoformat()} to {self.until.isoformat()}, UTC)"

    def summary(self) -> list[str]:
        """The counts in lines of plain words, for every platform's reply."""

        def listed(counts: dict[str, int]) -> str:
            return ", ".join(f"{k} {n}" for k, n in counts.items()) or "none"

        return [
            f"{self.cases} case(s) opened in shadow mode",
            "by category: " + listed({k: c.cases for k, c in self.categories.items()}),
            "by route: " + listed(self.routes),
            "held back: " + listed(self.actions),
            f"moderators decided {self.handled}: agreed {self.agreed}, disagreed "
            f"{self.disagreed}" + (f" ({self.agreement:.0%} agreement)" if self.handled else ""),
        ]


def _agreed(case: Case) -> bool | None:
    if case.decision in AGREE:
        return True
    if case.decision in DISAGREE:
        return False
    return None


def _example(case: Case) -> ShadowExample:
    return ShadowExample(
        case_id=case.id,
        category=case.category,
        route=case.verdict.route.value,
        would=[a.type for a in case.actions if a.state == "shadow"],
        decision=case.decision,
        agreed=_agreed(case),
        text=case.message.text[:_QUOTE],
        channel=case.message.channel,
        message_id=case.message.id,
        link=case.link,
    )


def shadow_report(
    cases: Sequence[Case], *, tenant: str, days: int, since: date, until: date
) -> ShadowReport:
    """The report over ``cases`` (the tenant's cases opened in the window; those not opened
    in shadow mode are left out)."""
    shadow = sorted((c for c in cases if c.shadow), key=lambda c: c.opened_at, reverse=True)
    per: dict[str, Counter[str]] = {}
    routes: Counter[str] = Counter()
    actions: Counter[str] = Counter()
    decisions: Counter[str] = Counter()
    for case in shadow:
        counts = per.setdefault(case.category or "none", Counter())
        counts["cases"] += 1
        routes[case.verdict.route.value] += 1
        actions.update(a.type for a in case.actions if a.state == "shadow")
        agreed = _agreed(case)
        if agreed is not None:
            assert case.decision is not None  # a decision is what agreed or disagreed
            decisions[case.decision] += 1
            counts["handled"] += 1
            counts["agreed" if agreed else "disagreed"] += 1
    handled = sum(c["handled"] for c in per.values())
    agreed_n = sum(c["agreed"] for c in per.values())
    ranked = sorted(shadow, key=lambda c: _agreed(c) is not False)  # stable: newest first
    return ShadowReport(
        tenant=tenant,
        days=days,
        since=since,
        until=until,
        cases=len(shadow),
        categories={
            name: CategoryShadow(
                cases=c["cases"], handled=c["handled"], agreed=c["agreed"], disagreed=c["disagreed"]
            )
            for name, c in sorted(per.items())
        },
        routes=dict(sorted(routes.items())),
        actions=dict(sorted(actions.items())),
        handled=handled,
        agreed=agreed_n,
        disagreed=handled - agreed_n,
        agreement=agreed_n / handled if handled else 0.0,
        decisions=dict(sorted(decisions.items())),
        examples=[_example(c) for c in ranked[:_EXAMPLES]],
    )
