"""A case as text, the way the operator commands print it (``modtriage queue``, ``case show``)."""

from __future__ import annotations

from datetime import datetime

from bot.case import Case, CaseEscalation

__all__ = ["render_case", "summary"]


def _when(at: datetime) -> str:
    return at.strftime("%Y-%m-%d %H:%M:%S")


def summary(case: Case) -> str:
    """One line per case, as the queue lists them."""
    message = case.message
    text = message.text if len(message.text) <= 60 else message.text[:59] + "…"
    claimed = f" (claimed by {case.claimed_by})" if case.claimed_by else ""
    shadow = " [shadow]" if case.shadow else ""
    return (
        f"{case.id:>5}  {case.status.value:<10} {case.category or '-':<13} "
        f"{message.author.id:<12} #{message.channel:<10} {text!r}{shadow}{claimed}"
    )


def _escalation(escalation: CaseEscalation) -> list[str]:
    """What the frontier model was sent, who the placeholders are, and what came back."""
    lines = [f"frontier model: {escalation.headline()}", "  sent (redacted):"]
    lines += [f"    {line}" for line in escalation.text.splitlines()]
    if escalation.pseudonyms:
        lines.append("  who is who: " + "; ".join(escalation.legend()))
    lines.append(f"  came back: {escalation.came_back()}")
    return lines


def render_case(case: Case) -> str:
    """A whole case as text, the way `modtriage case show` prints it."""
    message, verdict = case.message, case.verdict
    lines = [
        f"case {case.id} · {case.status.value} · {case.category or 'no category'}"
        + (" · shadow mode" if case.shadow else ""),
        f"member: {message.author.id} ({message.author.name or '-'}) in "
        f"{message.platform}:{message.workspace} #{message.channel}",
        f"message: {message.text!r}" + (f"  <{case.link}>" if case.link else ""),
        f"verdict: {verdict.route.value} by {verdict.stage}"
        + (f" ({verdict.model})" if verdict.model else "")
        + f": {verdict.explain()}",
    ]
    if verdict.classification and verdict.classification.scores:
        ranked = sorted(verdict.classification.scores.items(), key=lambda kv: -kv[1])
        lines.append("scores: " + ", ".join(f"{c} {s:.2f}" for c, s in ranked[:5]))
    lines.append(f"opened: {_when(case.opened_at)}  policy: {verdict.policy_version or '-'}")
    if case.claimed_by:
        lines.append(f"claimed by: {case.claimed_by}")
    if case.decided_by:
        lines.append(f"decided: {case.decision} by {case.decided_by}")
    if case.strike_points:
        lines.append(f"strike points: {case.strike_points}")
    if case.appeal:
        lines.append(f"appeal: {case.appeal!r}")
    if case.escalation is not None:
        lines += _escalation(case.escalation)
    lines.append("actions:" if case.actions else "actions: none")
    for action in case.actions:
        extra = f" {action.duration_s}s" if action.duration_s else ""
        detail = f" — {action.detail}" if action.detail else ""
        lines.append(
            f"  {_when(action.at)}  {action.type}{extra} by {action.by}: {action.state}{detail}"
        )
    lines.append("history:")
    for event in case.events:
        detail = f": {event.detail}" if event.detail else ""
        lines.append(f"  {_when(event.at)}  {event.kind} by {event.actor}{detail}")
    return "\n".join(lines)
