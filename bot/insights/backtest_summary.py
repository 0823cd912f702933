"""A backtest report in a few lines of chat text (``/mod backtest`` on Slack and Discord)."""

from __future__ import annotations

from bot.insights.backtest import BacktestReport

__all__ = ["summary_lines"]


def _pairs(before: dict[str, int], after: dict[str, int]) -> str:
    keys = list(dict.fromkeys([*before, *after]))
    changed = [k for k in keys if before.get(k, 0) != after.get(k, 0)]
    return ", ".join(f"{k} {before.get(k, 0)} → {after.get(k, 0)}" for k in changed) or "none"


def summary_lines(report: BacktestReport) -> list[str]:
    """Who and how many, agreement with moderators per category, what changes, strike steps,
    frontier calls and cost."""
    versions = ", ".join(report.recorded_versions) or "-"
    lines = [
        f"Backtest of policy {report.candidate} on {report.n} recorded messages "
        f"(decided under {versions}): {report.changed} would change route.",
    ]
    for category, agreement in report.moderators.items():
        lines.append(
            f"{category} vs moderators ({agreement.labelled} decided): precision "
            f"{agreement.precision:.2f}, recall {agreement.recall:.2f}"
        )
    changes = ", ".join(f"{t} {n}" for t, n in report.transitions.items()) or "none"
    lines.append(f"routes that change: {changes}")
    lines.append(f"actions: {_pairs(report.actions_before, report.actions_after)}")
    lines.append(
        f"cases: {report.cases_before} opened → {report.cases_after} would open "
        f"({report.cases_after - report.cases_before:+d})"
    )
    lines.append(
        f"members crossing a strike step: "
        f"{_pairs(report.strike_steps_before, report.strike_steps_after)}"
    )
    lines.append(
        f"frontier calls: {report.frontier_calls}, about "
        f"{report.frontier_cost:.4f} {report.frontier_currency}"
    )
    return lines
