"""Block Kit rendering: review cards, member notices, FAQ replies and modals. Pure: no I/O.

Interactive elements carry ``action_id`` values from :data:`ACTIONS`; ``app.py`` routes on them.
"""

from __future__ import annotations

import json
import re
from typing import Any

from bot.action import NotifyModerators, Reply, WarnUser
from bot.case import Case, CaseEscalation, CaseStatus
from bot.review.decision import DecisionKind

__all__ = [
    "ACTIONS",
    "APPEAL_VIEW",
    "CARD_BUTTONS",
    "DECISION_VIEW",
    "DURATIONS",
    "NEEDS_MODAL",
    "Blocks",
    "appeal_modal",
    "decision_modal",
    "escalation_text",
    "faq_reply",
    "faq_thanks",
    "notice",
    "notify_text",
    "review_card",
]

Blocks = list[dict[str, Any]]

#: Decision buttons: decision -> (label, style). Which appear depends on the case's status.
CARD_BUTTONS: dict[DecisionKind, tuple[str, str | None]] = {
    "remove": ("Remove", "danger"),
    "dismiss": ("Dismiss", None),
    "warn": ("Warn", None),
    "timeout": ("Timeout", None),
    "ban": ("Ban", "danger"),
    "overturn": ("Overturn", "primary"),
    "uphold": ("Uphold", None),
}
_BUTTONS_BY_STATUS: dict[CaseStatus, tuple[DecisionKind, ...]] = {
    CaseStatus.OPEN: ("remove", "dismiss", "warn", "timeout", "ban"),
    CaseStatus.ACTIONED: ("overturn", "timeout", "ban"),
    CaseStatus.APPEALED: ("overturn", "uphold"),
}
#: Decisions that need a reason or duration first (a modal); the others act on the click.
NEEDS_MODAL: frozenset[str] = frozenset({"warn", "timeout", "ban"})
ACTIONS: dict[str, str] = {
    **{kind: f"mt_card_{kind}" for kind in CARD_BUTTONS},
    "appeal": "mt_appeal",
    "summary": "mt_summary",  # not mt_card_: it decides nothing
    "faq_helpful": "mt_faq_helpful",
    "faq_unhelpful": "mt_faq_unhelpful",
}
DECISION_VIEW = "mt_decision"
APPEAL_VIEW = "mt_appeal_view"
#: Timeout choices offered in the decision modal: (label, seconds).
DURATIONS: tuple[tuple[str, int], ...] = (
    ("10 minutes", 600),
    ("1 hour", 3600),
    ("1 day", 86400),
    ("7 days", 7 * 86400),
)
#: A Slack member id, as a pseudonym maps back to it ("U0123" or "U0123 (Name)").
_MEMBER = re.compile(r"^([UW][A-Z0-9]{2,})(?: \(.*\))?$")
_SECTION_CHARS = 2900  # Slack's limit on a section's text is 3000 characters


def _clip(text: str, limit: int = _SECTION_CHARS) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _quote(text: str, limit: int = 1500) -> str:
    return "\n".join("> " + line for line in _clip(text, limit).splitlines() or [""])


def _escape(text: str) -> str:
    """Slack mrkdwn needs &, < and > escaped, or member text could forge mentions and links."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _md(text: str) -> dict[str, Any]:
    return {"type": "mrkdwn", "text": text}


def _plain(text: str) -> dict[str, Any]:
    return {"type": "plain_text", "text": text, "emoji": True}


def _who(label: str) -> str:
    """'slack:U123' (an actor label) as a mention; 'modtriage' as it is."""
    return f"<@{label.removeprefix('slack:')}>" if label.startswith("slack:") else label


def escalation_text(escalation: CaseEscalation) -> str:
    """What the frontier model was sent (placeholders mapped back for the moderators) and what
    came back."""
    lines = [
        f"*Frontier model:* {_escape(escalation.headline())}",
        "Sent (redacted):",
        _quote(_escape(escalation.text), 1200),
    ]
    legend = [
        f"{placeholder} = <@{member.group(1)}>"
        if (member := _MEMBER.match(original)) and placeholder.startswith("user")
        else _escape(f"{placeholder} = {original}")
        for placeholder, original in escalation.pseudonyms.items()
    ]
    if legend:
        lines.append("Who is who: " + "; ".join(legend))
    lines.append("Came back: " + _escape(escalation.came_back()))
    return "\n".join(lines)


def review_card(
    case: Case, *, permalink: str | None = None, headline: str | None = None
) -> tuple[str, Blocks]:
    """Fallback text and blocks of a case: the message, why, what was done, who decided, and
    the decisions its status allows as buttons."""
    message, verdict = case.message, case.verdict
    link = permalink or case.link
    where = f"<#{message.channel}>" + (f" · <{link}|open message>" if link else "")
    category = case.category or verdict.category or "report"
    flags = " · _shadow mode: nothing was enforced_" if case.shadow or verdict.shadow else ""
    head = (
        f"*Case `{case.id}`* · {category} · route *{verdict.route.value}* · "
        f"*{case.status.value}*{flags}"
    )
    blocks: Blocks = []
    if headline:
        blocks.append({"type": "section", "text": _md(_clip(_escape(headline)))})
    blocks += [
        {"type": "section", "text": _md(head)},
        {
            "type": "section",
            "text": _md(
                _clip(f"<@{message.author.id}> in {where}\n{_quote(_escape(message.text))}")
            ),
        },
        {
            "type": "context",
            "elements": [
                _md(
                    _clip(
                        f"Why: {_escape(verdict.explain())} · by {verdict.stage}"
                        + (f" ({verdict.model})" if verdict.model else "")
                        + f" · policy {verdict.policy_version or '-'}",
                        2000,
                    )
                )
            ],
        },
    ]
    if case.escalation is not None:
        blocks.append({"type": "section", "text": _md(_clip(escalation_text(case.escalation)))})
    done = [a for a in case.actions if a.type != "open_case"]
    if done:
        line = ", ".join(f"{a.type} ({a.state})" for a in done[-8:])
        blocks.append({"type": "context", "elements": [_md(_clip(f"Actions: {line}", 2000))]})
    if case.appeal:
        blocks.append(
            {"type": "section", "text": _md(_clip(f"*Appeal:*\n{_quote(_escape(case.appeal))}"))}
        )
    if case.decided_by and case.decision:
        blocks.append(
            {"type": "section", "text": _md(f"*{case.decision}* by {_who(case.decided_by)}")}
        )
    buttons: list[dict[str, Any]] = []
    for kind in _BUTTONS_BY_STATUS.get(case.status, ()):
        label, style = CARD_BUTTONS[kind]
        button: dict[str, Any] = {
            "type": "button",
            "action_id": ACTIONS[kind],
            "text": _plain(label),
            "value": case.id,
        }
        if style:
            button["style"] = style
        buttons.append(button)
    if buttons:  # while a decision is open, the thread's gist is a click away
        summary = {"type": "button", "action_id": ACTIONS["summary"], "text": _plain("Summary")}
        buttons.append(summary | {"value": case.id})
        blocks.append({"type": "actions", "block_id": f"case:{case.id}", "elements": buttons})
    text = f"Case {case.id} ({case.status.value}): {category} by <@{message.author.id}>"
    if case.decided_by and case.decision:
        text += f", {case.decision} by {_who(case.decided_by)}"
    return text, blocks


def notice(action: WarnUser, *, case_ref: str) -> tuple[str, Blocks]:
    """The private notice to a member: which rule, their own message, an appeal button."""
    body = _escape(action.text)
    if action.quote:
        body += "\nYour message:\n" + _quote(_escape(action.quote), 1000)
    blocks: Blocks = [
        {"type": "section", "text": _md(_clip(body))},
        {
            "type": "actions",
            "elements": [
                {
                    "type": "button",
                    "action_id": ACTIONS["appeal"],
                    "text": _plain("Appeal"),
                    "value": case_ref,
                }
            ],
        },
    ]
    return action.text, blocks


def faq_reply(action: Reply) -> tuple[str, Blocks | None]:
    """A thread reply; FAQ answers get helpful / not helpful buttons."""
    if not action.feedback_buttons:
        return action.text, None
    value = action.faq_id or ""
    blocks: Blocks = [
        {"type": "section", "text": _md(_clip(_escape(action.text)))},
        {
            "type": "actions",
            "elements": [
                {
                    "type": "button",
                    "action_id": ACTIONS["faq_helpful"],
                    "text": _plain("Helpful"),
                    "value": value,
                },
                {
                    "type": "button",
                    "action_id": ACTIONS["faq_unhelpful"],
                    "text": _plain("Not helpful"),
                    "value": value,
                },
            ],
        },
    ]
    return action.text, blocks


def faq_thanks(text: str, helpful: bool) -> Blocks:
    """The FAQ reply after feedback: buttons replaced by a thank-you."""
    said = "helpful" if helpful else "not helpful"
    return [
        {"type": "section", "text": _md(_clip(_escape(text)))},
        {"type": "context", "elements": [_md(f"Thanks, you marked this {said}.")]},
    ]


def notify_text(action: NotifyModerators, *, permalink: str | None) -> str:
    link = f" · <{permalink}|open message>" if permalink else ""
    return _clip(f"{_escape(action.text)}\n<@{action.user_id}> in <#{action.channel}>{link}")


def decision_modal(
    *,
    case_id: str,
    kind: DecisionKind,
    card_channel: str,
    card_ts: str,
    categories: tuple[str, ...] = (),
) -> dict[str, Any]:
    """The modal for a decision that needs more: the reason (and duration for a timeout), and
    which rule was broken when the case has no category yet (a member's report)."""
    blocks: Blocks = []
    if categories:
        blocks.append(
            {
                "type": "input",
                "block_id": "category",
                "label": _plain("Which rule does it break?"),
                "element": {
                    "type": "static_select",
                    "action_id": "value",
                    "options": [{"text": _plain(c), "value": c} for c in categories[:100]],
                },
            }
        )
    blocks += [
        {
            "type": "input",
            "block_id": "reason",
            "optional": kind != "ban",
            "label": _plain("Reason (the member sees it)"),
            "element": {"type": "plain_text_input", "action_id": "value", "multiline": True},
        }
    ]
    if kind == "timeout":
        blocks.append(
            {
                "type": "input",
                "block_id": "duration",
                "label": _plain("Duration"),
                "element": {
                    "type": "static_select",
                    "action_id": "value",
                    "initial_option": {"text": _plain(DURATIONS[1][0]), "value": "3600"},
                    "options": [
                        {"text": _plain(label), "value": str(seconds)}
                        for label, seconds in DURATIONS
                    ],
                },
            }
        )
    meta = {"case": case_id, "kind": kind, "channel": card_channel, "ts": card_ts}
    return {
        "type": "modal",
        "callback_id": DECISION_VIEW,
        "private_metadata": json.dumps(meta),
        "title": _plain(f"{kind.capitalize()} · case"[:24]),
        "submit": _plain("Confirm"),
        "close": _plain("Cancel"),
        "blocks": blocks,
    }


def appeal_modal(*, case_ref: str) -> dict[str, Any]:
    return {
        "type": "modal",
        "callback_id": APPEAL_VIEW,
        "private_metadata": case_ref,
        "title": _plain("Appeal"),
        "submit": _plain("Send appeal"),
        "close": _plain("Cancel"),
        "blocks": [
            {
                "type": "input",
                "block_id": "text",
                "label": _plain("Why should a moderator look again?"),
                "element": {
                    "type": "plain_text_input",
                    "action_id": "value",
                    "multiline": True,
                    "max_length": 2000,
                },
            }
        ],
    }
