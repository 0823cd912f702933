"""Moderation policies: plain-language categories, thresholds, actions and overrides.

A policy is a YAML file (the package ships ``bot/policies/default.yaml``) loaded into the frozen
models below. Any mistake stops start-up with a :class:`~bot.errors.PolicyError` naming the
file, the key and what to write instead.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import ErrorDetails

from bot.errors import PolicyError
from bot.notice_template import check_template
from bot.patterns import check_pattern
from bot.verdict import Route
from bot.yaml_files import parse_yaml, read_text

__all__ = [
    "ActionKind",
    "Category",
    "ChannelOverride",
    "Escalation",
    "FaqSettings",
    "Moderators",
    "Policy",
    "RaidProtection",
    "RoleOverride",
    "Rules",
    "Strikes",
    "Thresholds",
    "load_policy",
    "parse_duration",
]

ActionKind = Literal["delete", "warn", "timeout", "kick", "ban", "reply", "notify", "open_case"]
PUNITIVE: frozenset[str] = frozenset({"delete", "warn", "timeout", "kick", "ban"})

_DURATION = re.compile(r"^\s*(\d+)\s*([smhdw])\s*$")
_UNIT_S = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(value: object) -> object:
    """'90s', '10m', '1h', '7d', '2w' or a number of seconds -> seconds."""
    if isinstance(value, str):
        match = _DURATION.match(value)
        if not match:
            raise ValueError("write a duration like '90s', '10m', '1h', '7d' or '2w'")
        return int(match.group(1)) * _UNIT_S[match.group(2)]
    return value


Duration = Annotated[int, BeforeValidator(parse_duration), Field(gt=0)]
Probability = Annotated[float, Field(ge=0.0, le=1.0)]
CategoryId = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$")]


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Thresholds(_Model):
    """Score bands: below ``review`` allow; then review; then escalate; from ``act`` act."""

    review: Probability = 0.5
    escalate: Probability = 0.8
    act: Probability = 0.9

    @model_validator(mode="after")
    def _ordered(self) -> Thresholds:
        if not self.review <= self.escalate <= self.act:
            raise ValueError(
                f"thresholds must satisfy review <= escalate <= act, got review={self.review}, "
                f"escalate={self.escalate}, act={self.act}"
            )
        return self

    def route(self, score: float) -> Route:
        if score >= self.act:
            return Route.ACT
        if score >= self.escalate:
            return Route.ESCALATE
        if score >= self.review:
            return Route.REVIEW
        return Route.ALLOW


class Examples(_Model):
    """Written examples: what the category means (positive) and what it does not (negative)."""

    positive: tuple[str, ...] = ()
    negative: tuple[str, ...] = ()


class Category(_Model):
    description: str = Field(min_length=10, description="plain-language definition")
    severity: Literal["low", "medium", "high", "critical"] = "medium"
    thresholds: Thresholds = Thresholds()
    on_act: tuple[ActionKind, ...] = ("delete", "warn", "open_case")
    timeout: Duration | None = Field(default=None, description="when on_act has 'timeout'")
    deny: tuple[str, ...] = Field(default=(), description="terms that always act (normalised)")
    examples: Examples = Examples()
    support: bool = Field(default=False, description="a support case, never a punishment")
    strike_points: int = Field(default=1, ge=0, le=100)
    shadow: bool = False
    notice: Annotated[str, AfterValidator(check_template)] | None = Field(
        default=None,
        max_length=1000,
        description="the member notice in the community's words (bot/notice_template.py)",
    )

    @model_validator(mode="after")
    def _consistent(self) -> Category:
        if "timeout" in self.on_act and self.timeout is None:
            raise ValueError(
                "on_act has 'timeout' but no 'timeout' duration; add e.g. timeout: 10m"
            )
        if self.support and PUNITIVE & set(self.on_act):
            raise ValueError(
                "a support category must not punish: use on_act: [reply, notify, open_case]"
            )
        return self


class LinkRules(_Model):
    category: CategoryId = "spam"
    allowed_domains: tuple[str, ...] = ()
    block_invites: bool = True
    invite_patterns: tuple[str, ...] = (
        r"discord(?:app)?\.(?:gg|com/invite)/\w+",
        r"join\.slack\.com/\S+",
        r"t\.me/\+?\w+",
    )
    scam_patterns: tuple[str, ...] = ()

    @field_validator("invite_patterns", "scam_patterns")
    @classmethod
    def _bounded(cls, patterns: tuple[str, ...]) -> tuple[str, ...]:
        for pattern in patterns:
            check_pattern(pattern)  # compiles, and does not backtrack on a hostile message
        return patterns


class RateRule(_Model):
    """At most ``max`` events per ``window`` per author and channel."""

    category: CategoryId = "spam"
    max: int = Field(ge=1)
    window: Duration


class Rules(_Model):
    allow: tuple[str, ...] = Field(default=(), description="terms never flagged by deny lists")
    links: LinkRules = LinkRules()
    flood: RateRule | None = RateRule(max=6, window=10)
    duplicates: RateRule | None = RateRule(max=3, window=60)
    max_mentions: int | None = Field(default=5, ge=1)
    mention_category: CategoryId = "spam"


class ChannelOverride(_Model):
    shadow: bool | None = None
    disabled: tuple[CategoryId, ...] = ()
    thresholds: dict[CategoryId, Thresholds] = {}
    faq: bool | None = None


class RoleOverride(_Model):
    exempt: tuple[CategoryId, ...] | Literal["all"] = ()


class Moderators(_Model):
    roles: tuple[str, ...] = ("moderator", "admin")
    users: tuple[str, ...] = ()
    channel: str | None = Field(default=None, description="where review cards are posted")


class StrikeStep(_Model):
    points: int = Field(ge=1)
    action: Literal["timeout", "kick", "ban"]
    duration: Duration | None = None


class Strikes(_Model):
    window: Duration = 7 * 86400
    ladder: tuple[StrikeStep, ...] = ()


LanguageCode = Annotated[str, Field(pattern=r"^[a-z]{2,3}$")]


class Escalation(_Model):
    enabled: bool = Field(default=False, description="nothing leaves the machine unless true")
    context_messages: int = Field(default=10, ge=0, le=100)
    languages: tuple[LanguageCode, ...] = Field(
        default=("en",),
        min_length=1,
        description="languages the small model handles (ISO 639-1 codes); a message long "
        "enough to tell in another language, scoring in a review band or above, is escalated",
    )


class FaqSettings(_Model):
    """FAQ answers (``bot/faq``): the file is resolved relative to the policy file."""

    file: Path | None = None
    enabled: bool = True
    min_similarity: float | None = Field(
        default=None, ge=-1.0, le=1.0, description="hand off below; unset: the tuned default"
    )
    min_confidence: Probability | None = Field(
        default=None, description="hand off when the best entry wins by less; unset: default"
    )
    cooldown: Duration = Field(default=86400, description="never repeat an answer in a thread")
    questions_only: bool = Field(default=True, description="match only what looks like a question")
    keep_questions_days: int = Field(
        default=30, ge=0, le=400, description="days handed-off questions (redacted) and the "
        "replies in their threads are kept for `faq suggest`; 0 keeps none",
    )  # fmt: skip
    suggest_min_members: int = Field(
        default=3, ge=2, description="`faq suggest` proposes a question asked by this many members"
    )


RaidAction = Literal["alert", "slowmode", "lock", "hold_new_members"]


class RaidProtection(_Model):
    """Raid mode (``bot/raid.py``): ``joins`` members joining within ``within``, or
    ``new_accounts`` accounts younger than ``new_account_days`` joining within it, start it;
    it ends by itself after ``quiet_after`` without such joins. Off unless ``enabled``."""

    enabled: bool = False
    joins: int = Field(default=10, ge=2, le=10_000)
    within: Duration = 10
    new_account_days: int = Field(default=7, ge=0, le=3650)
    new_accounts: int | None = Field(
        default=None, ge=1, le=10_000, description="unset: half of joins (at least 2); 0 days: off"
    )
    actions: tuple[RaidAction, ...] = ("alert", "hold_new_members")
    channels: tuple[str, ...] = Field(default=(), description="channel ids or names to slow/lock")
    slowmode_seconds: int = Field(default=30, ge=1, le=21600)
    quiet_after: Duration = 600
    newcomer_hours: int = Field(
        default=0,
        ge=0,
        le=720,
        description="hold for review the links and mentions of members who joined within this "
        "many hours (Slack and Discord; raid mode need not be on); 0: off",
    )

    @model_validator(mode="after")
    def _channels_for_channel_actions(self) -> RaidProtection:
        if {"slowmode", "lock"} & set(self.actions) and not self.channels:
            raise ValueError("raid actions slowmode and lock need channels: list them")
        return self

    @property
    def young_joins(self) -> int:
        """How many young accounts joining within ``within`` start raid mode."""
        return self.new_accounts if self.new_accounts is not None else max(2, self.joins // 2)


class Policy(_Model):
    """A whole policy file."""

    name: str = "default"
    shadow: bool = Field(default=False, description="decide and record, act on nothing")
    categories: dict[CategoryId, Category] = Field(min_length=1)
    rules: Rules = Rules()
    channels: dict[str, ChannelOverride] = {}
    roles: dict[str, RoleOverride] = {}
    moderators: Moderators = Moderators()
    strikes: Strikes = Strikes()
    escalation: Escalation = Escalation()
    faq: FaqSettings = FaqSettings()
    raid: RaidProtection = RaidProtection()
    support_text: str = (
        "It sounds like you're going through a lot. You're not alone: a moderator will reach "
        "out. If you are in danger, call your local emergency number or find a helpline at "
        "https://findahelpline.com."
    )
    version: str = Field(default="", description="content hash, set by load_policy")

    @model_validator(mode="after")
    def _references(self) -> Policy:
        known = set(self.categories)
        refs: list[tuple[str, str]] = [("rules.links.category", self.rules.links.category)]
        refs.append(("rules.mention_category", self.rules.mention_category))
        for name in ("flood", "duplicates"):
            rule = getattr(self.rules, name)
            if rule is not None:
                refs.append((f"rules.{name}.category", rule.category))
        for channel, override in self.channels.items():
            refs += [(f"channels.{channel}.disabled", c) for c in override.disabled]
            refs += [(f"channels.{channel}.thresholds", c) for c in override.thresholds]
        for role, role_override in self.roles.items():
            if role_override.exempt != "all":
                refs += [(f"roles.{role}.exempt", c) for c in role_override.exempt]
        for where, category in refs:
            if category not in known:
                raise ValueError(
                    f"{where}: unknown category {category!r}; use one of {', '.join(sorted(known))}"
                )
        return self

    def thresholds(self, category: str, channel: str | None = None) -> Thresholds:
        override = self.channels.get(channel or "")
        if override and category in override.thresholds:
            return override.thresholds[category]
        return self.categories[category].thresholds

    def is_shadow(self, category: str | None, channel: str | None) -> bool:
        override = self.channels.get(channel or "")
        if override and override.shadow is not None:
            return override.shadow
        return self.shadow or bool(category and self.categories[category].shadow)

    def enabled(self, category: str, channel: str | None, roles: tuple[str, ...] = ()) -> bool:
        override = self.channels.get(channel or "")
        if override and category in override.disabled:
            return False
        for role in roles:
            exempt = self.roles.get(role)
            if exempt and (exempt.exempt == "all" or category in exempt.exempt):
                return False
        return True


def _fix_for(error: ErrorDetails) -> str:
    kind = error["type"]
    ctx = error.get("ctx") or {}
    if kind == "extra_forbidden":
        return "remove this key or correct its spelling"
    if kind == "missing":
        return "add this key"
    if kind == "literal_error":
        return f"use one of {ctx.get('expected', 'the allowed values')}"
    if kind == "string_pattern_mismatch" and "languages" in error["loc"]:
        return "use ISO 639-1 language codes such as en, fr, es"
    if kind == "string_pattern_mismatch":
        return "use lower-case letters, digits and underscores, starting with a letter"
    if kind in {"less_than_equal", "greater_than_equal", "greater_than", "less_than"}:
        return "use a number in range (probabilities are between 0 and 1)"
    if kind == "value_error":
        return str(ctx.get("error", error["msg"])).removeprefix("Value error, ")
    return str(error["msg"])


def load_policy(path: Path | str) -> Policy:
    """Read and validate a policy file.

    Raises:
        PolicyError: the file is missing, is not YAML, or breaks a rule; the message names the
            file, the key and the fix.
    """
    path = Path(path)
    raw_text = read_text(path, fix="check the path")
    raw = parse_yaml(str(path), raw_text)
    if not isinstance(raw, dict):
        raise PolicyError(str(path), "(top level)", "is not a mapping", "start with 'categories:'")
    raw["version"] = hashlib.sha256(raw_text.encode()).hexdigest()[:12]
    try:
        policy = Policy.model_validate(raw)
    except ValidationError as exc:
        errors = exc.errors()
        first = errors[0]
        key = ".".join(str(p) for p in first["loc"] if p != "[key]") or "(top level)"
        problem = first["msg"].removeprefix("Value error, ")
        fix = _fix_for(first)
        located = re.match(r"^([\w.-]+): (.*?); (use one of .*)$", problem)
        if not first["loc"] and located:  # a cross-reference check names its own key
            key, problem, fix = located.groups()
        if len(errors) > 1:
            problem += (
                f" (and {len(errors) - 1} more: "
                + "; ".join(".".join(str(p) for p in e["loc"]) for e in errors[1:4])
                + ")"
            )
        raise PolicyError(str(path), key, problem, fix) from exc
    if policy.faq.file is not None and not policy.faq.file.is_absolute():
        faq = policy.faq.model_copy(update={"file": path.parent / policy.faq.file})
        policy = policy.model_copy(update={"faq": faq})
    return policy
