"""Stage: turn evidence into a verdict and actions. ``decide`` is a pure function of
(message, evidence, classification, policy, and why the model could not judge, if it could not)."""

from __future__ import annotations

from collections.abc import Sequence

from bot.action import (
    Action,
    BanUser,
    DeleteMessage,
    KickUser,
    NotifyModerators,
    OpenCase,
    Reply,
    TimeoutUser,
    WarnUser,
    about,
    action_id,
)
from bot.classification import Classification
from bot.message import Message
from bot.notice_template import human_duration, render
from bot.pipeline.assessment import Assessment
from bot.policy import Category, Policy
from bot.verdict import Evidence, Route, Verdict

__all__ = ["MODEL_UNAVAILABLE_RULE", "DecideStage", "decide"]

#: The evidence rule of a message the model could not judge and the rules did not decide.
MODEL_UNAVAILABLE_RULE = "model_unavailable"

_SEVERITY = {"low": 0, "medium": 1, "high": 2, "critical": 3}
_QUOTE_CHARS = 300


def _quote(text: str) -> str:
    return text if len(text) <= _QUOTE_CHARS else text[: _QUOTE_CHARS - 1] + "…"


def _rank(policy: Policy, evidence: Evidence) -> tuple[int, int, float]:
    severity = _SEVERITY[policy.categories[evidence.category].severity]
    return evidence.route.rank, severity, evidence.score


def _warning(message: Message, name: str, category: Category, first_sentence: str) -> str:
    """The member's notice for an automatic action: the policy's words, or the default."""
    appeal = "If you think this is a mistake, you can appeal."
    if category.notice is None:
        return f"Your message was flagged under the rule '{name}' ({first_sentence}). {appeal}"
    timeout = category.timeout or 600
    acts = set(category.on_act)
    action = (
        "you are banned" if "ban" in acts
        else "you were removed from the community" if "kick" in acts
        else f"you are timed out for {human_duration(timeout)}" if "timeout" in acts
        else "your message was removed" if "delete" in acts
        else "your message was flagged"
    )  # fmt: skip
    return render(
        category.notice,
        rule=f"the rule '{name}' ({first_sentence})",
        excerpt=message.text,
        action=action,
        duration=human_duration(timeout) if "timeout" in acts else "",
        appeal=appeal,
    )


def _actions(
    message: Message, route: Route, name: str, category: Category, top: Evidence, policy: Policy
) -> list[Action]:
    rule = top.rule
    reason = f"{name}: {top.explain()}"
    common = about(message, reason=reason)

    def aid(kind: str) -> str:
        return action_id(message.key, kind, rule)

    if route is not Route.ACT:
        found: list[Action] = [
            OpenCase(id=aid("open_case"), route=route.value, category=name, **common)
        ]
        if category.support:
            found.append(
                NotifyModerators(
                    id=aid("notify"), text=f"Possible {name} (needs a person): {reason}", **common
                )
            )
        return found

    first_sentence = category.description.split(". ")[0].rstrip(".")
    built: list[Action] = []
    for kind in category.on_act:
        if kind == "delete":
            built.append(DeleteMessage(id=aid(kind), **common))
        elif kind == "warn":
            text = _warning(message, name, category, first_sentence)
            built.append(WarnUser(id=aid(kind), text=text, quote=_quote(message.text), **common))
        elif kind == "timeout":
            duration = category.timeout or 600
            built.append(TimeoutUser(id=aid(kind), duration_s=duration, **common))
        elif kind == "kick":
            built.append(KickUser(id=aid(kind), **common))
        elif kind == "ban":
            built.append(BanUser(id=aid(kind), **common))
        elif kind == "reply":
            text = policy.support_text if category.support else f"Reminder: {first_sentence}."
            thread = message.thread or message.id
            built.append(Reply(id=aid(kind), text=text, thread=thread, **common))
        elif kind == "notify":
            built.append(NotifyModerators(id=aid(kind), text=f"Acted on {reason}", **common))
        elif kind == "open_case":
            built.append(OpenCase(id=aid(kind), route=route.value, category=name, **common))
    return built


def decide(
    message: Message,
    evidence: Sequence[Evidence],
    classification: Classification | None,
    policy: Policy,
    *,
    model_unavailable: str | None = None,
) -> tuple[Verdict, list[Action]]:
    """The verdict and the actions it calls for. Pure: no I/O, no clock beyond the timestamp.

    With ``model_unavailable`` (the reason) the rules' evidence alone decides and the verdict is
    degraded; a message no rule decided goes to human review with evidence naming the reason."""
    escalation = policy.escalation.enabled
    kept = []
    for item in evidence:
        if item.category not in policy.categories:
            continue
        if not policy.enabled(item.category, message.channel, message.author.roles):
            continue
        if item.route is Route.ESCALATE and not escalation:
            item = item.model_copy(update={"route": Route.REVIEW})
        kept.append(item)
    kept.sort(key=lambda e: _rank(policy, e), reverse=True)
    model = classification.model if classification else None
    degraded = bool(classification and classification.degraded) or model_unavailable is not None
    if not kept and model_unavailable is not None:
        return _unjudged(message, model_unavailable, policy)
    if not kept:
        verdict = Verdict(
            message_key=message.key,
            route=Route.ALLOW,
            stage="classify" if classification else "rules",
            model=model,
            classification=classification,
            degraded=degraded,
            policy_version=policy.version,
        )
        return verdict, []
    top = kept[0]
    category = policy.categories[top.category]
    actions = _actions(message, top.route, top.category, category, top, policy)
    shadow = policy.is_shadow(top.category, message.channel)
    if shadow:
        would = ", ".join(a.type for a in actions if not isinstance(a, OpenCase))
        actions = [
            a.model_copy(update={"reason": f"shadow mode, would {would or 'record'}: {a.reason}"})
            for a in actions
            if isinstance(a, OpenCase)
        ]
    verdict = Verdict(
        message_key=message.key,
        route=top.route,
        category=top.category,
        stage="classify" if top.rule.startswith("model:") else "rules",
        model=model,
        evidence=tuple(kept),
        classification=classification,
        action_ids=tuple(a.id for a in actions),
        action_types=tuple(a.type for a in actions),
        shadow=shadow,
        degraded=degraded,
        policy_version=policy.version,
    )
    return verdict, actions


def _unjudged(message: Message, reason: str, policy: Policy) -> tuple[Verdict, list[Action]]:
    """No rule fired and the model could not judge: a person decides."""
    evidence = Evidence(
        category="unclassified", rule=MODEL_UNAVAILABLE_RULE, score=0.0, route=Route.REVIEW,
        note=reason,
    )  # fmt: skip
    case = OpenCase(
        id=action_id(message.key, "open_case", MODEL_UNAVAILABLE_RULE),
        route=Route.REVIEW.value,
        **about(message, reason=f"needs a person: {reason}"),
    )
    verdict = Verdict(
        message_key=message.key,
        route=Route.REVIEW,
        stage="classify",
        evidence=(evidence,),
        action_ids=(case.id,),
        action_types=(case.type,),
        shadow=policy.is_shadow(None, message.channel),
        degraded=True,
        policy_version=policy.version,
    )
    return verdict, [case]


class DecideStage:
    name = "decide"

    def __init__(self, *, policy: Policy) -> None:
        self._policy = policy

    async def run(self, batch: Sequence[Assessment]) -> list[Assessment]:
        out = []
        for item in batch:
            verdict, actions = decide(
                item.message,
                item.evidence,
                item.classification,
                self._policy,
                model_unavailable=item.model_unavailable,
            )
            out.append(item.model_copy(update={"verdict": verdict, "actions": tuple(actions)}))
        return out
