"""A thread in five lines for a moderator (``/mod summary``): the schema, and the extractive
summariser the embedded model gives (offline, deterministic).

Every text here was redacted before it arrived (:class:`Thread` holds redacted text only:
the service runs :class:`~bot.escalation.redaction.Redactor` over each message first), so
nothing a summariser writes can carry an e-mail address, phone number or token it removed.

The extractive summary picks, in order of priority, the message a case is about, the messages
the rules or the model flagged (highest score first) and the messages nearest the thread's
centroid (the mean of their encoder vectors), at most five, shown in the order they were
written; it counts each participant's messages, groups the rules that fired, collects the links
left in the text and suggests the action the policy's routes give the worst message.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Annotated, Literal, Protocol

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from bot.classifiers.encoder import Encoder
from bot.policy import Policy
from bot.verdict import Evidence, Route

__all__ = [
    "GIST_CHARS",
    "GIST_LINES",
    "Excerpt",
    "ExtractiveSummariser",
    "Method",
    "Participant",
    "RuleHit",
    "SuggestedAction",
    "Summariser",
    "Thread",
    "ThreadMessage",
    "ThreadSummary",
    "applies_of",
    "clip",
    "find_links",
    "participants_of",
    "rules_of",
    "suggest",
]

#: At most this many lines of gist, each at most GIST_CHARS characters.
GIST_LINES = 5
GIST_CHARS = 160
_FLAGGED_MAX = 3  # of the five lines, at most three go to flagged messages
_LINKS_MAX = 10
_URL = re.compile(r"\b(?:https?://|www\.)[^\s<>\"'|]+", re.IGNORECASE)
_PLACEHOLDER_END = re.compile(r"\[[a-z]+\d+\]$")  # "?[query1]": the redaction's, kept

Method = Literal["extractive", "vllm", "extractive-fallback"]
GistLine = Annotated[str, Field(max_length=GIST_CHARS)]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ThreadMessage(_Frozen):
    """One message of the thread, already redacted, with what the pipeline found in it."""

    index: int = Field(ge=0, description="position in the thread, oldest first")
    who: str = Field(description="the author's pseudonym in this summary: user1, user2, ...")
    user: str = Field(description="the author's platform id (never shown to a model)")
    text: str = Field(description="redacted")
    route: Route = Route.ALLOW
    evidence: tuple[Evidence, ...] = Field(default=(), description="without matched words")

    @property
    def top(self) -> Evidence | None:
        return max(self.evidence, key=lambda e: (e.route.rank, e.score), default=None)


class Thread(_Frozen):
    """What a summariser reads: the redacted messages, oldest first."""

    messages: tuple[ThreadMessage, ...] = Field(min_length=1)
    focus: int | None = Field(default=None, description="index of the message a case is about")
    case_id: str | None = None


class Participant(_Frozen):
    who: str = Field(description="pseudonym, as the gist names them")
    user: str = Field(description="platform user id")
    messages: int = Field(ge=0)
    flagged: int = Field(ge=0, description="of their messages, those routed past allow")
    did: str = Field(max_length=GIST_CHARS, description="what they did, in a few words")


class Excerpt(_Frozen):
    """A message the extractive summary chose, and why."""

    index: int
    who: str
    text: str = Field(max_length=GIST_CHARS)
    centrality: float = Field(description="cosine to the thread's centroid")
    flags: tuple[str, ...] = Field(default=(), description="e.g. 'toxicity 0.93 (model:toxicity)'")


class RuleHit(_Frozen):
    """A rule or model category that fired in the thread."""

    category: str
    rule: str
    messages: int = Field(ge=1)
    top_score: float = Field(ge=0.0, le=1.0)
    route: Route


class SuggestedAction(_Frozen):
    route: Route
    category: str | None = None
    actions: tuple[str, ...] = Field(default=(), description="the policy's on_act for it")
    reason: str = Field(max_length=GIST_CHARS)


class ThreadSummary(_Frozen):
    """What ``/mod summary`` answers, from either backend.

    ``method`` says who wrote ``gist``, ``participants[].did``, ``applies`` and ``suggested``:
    ``extractive`` (chosen messages), ``vllm`` (the small instruct model, in its schema) or
    ``extractive-fallback`` (the model was asked and its answer failed: ``note`` says why).
    ``participants`` counts, ``rules``, ``links`` and ``excerpts`` are always extracted.
    """

    method: Method
    model: str = Field(description="the encoder, or the served model")
    note: str | None = None
    case_id: str | None = None
    messages: int = Field(ge=1, description="messages summarised")
    gist: tuple[GistLine, ...] = Field(min_length=1, max_length=GIST_LINES)
    participants: tuple[Participant, ...]
    applies: tuple[str, ...] = Field(description="categories that seem to apply")
    rules: tuple[RuleHit, ...]
    links: tuple[str, ...] = Field(max_length=_LINKS_MAX)
    suggested: SuggestedAction
    excerpts: tuple[Excerpt, ...] = ()


class Summariser(Protocol):
    """Summarises a redacted thread under a policy."""

    async def summarise(self, thread: Thread, policy: Policy) -> ThreadSummary: ...


def clip(text: str, limit: int = GIST_CHARS) -> str:
    """One line of at most ``limit`` characters."""
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 1] + "…"


def find_links(texts: Sequence[str]) -> tuple[str, ...]:
    """The links in the texts, first appearance first, trailing punctuation dropped."""
    found: list[str] = []
    for text in texts:
        for match in _URL.finditer(text):
            url = match.group()
            while url and url[-1] in ".,;:!?)]>" and not _PLACEHOLDER_END.search(url):
                url = url[:-1]
            if url not in found:
                found.append(url)
    return tuple(found[:_LINKS_MAX])


def _flag(evidence: Evidence) -> str:
    return f"{evidence.category} {evidence.score:.2f} ({evidence.rule})"


def _flagged(message: ThreadMessage) -> bool:
    return message.route is not Route.ALLOW


def rules_of(thread: Thread) -> tuple[RuleHit, ...]:
    """Each (category, rule) that fired, with how many messages and its top score."""
    hits: dict[tuple[str, str], list[Evidence]] = {}
    for message in thread.messages:
        for evidence in message.evidence:
            hits.setdefault((evidence.category, evidence.rule), []).append(evidence)
    found = [
        RuleHit(
            category=category,
            rule=rule,
            messages=len(items),
            top_score=max(e.score for e in items),
            route=max((e.route for e in items), key=lambda r: r.rank),
        )
        for (category, rule), items in hits.items()
    ]
    return tuple(sorted(found, key=lambda h: (-h.route.rank, -h.top_score, h.category, h.rule)))


def applies_of(rules: Sequence[RuleHit]) -> tuple[str, ...]:
    """Categories with a rule at review or above, worst first."""
    seen: list[str] = []
    for hit in rules:
        if hit.route is not Route.ALLOW and hit.category not in seen:
            seen.append(hit.category)
    return tuple(seen)


def suggest(thread: Thread, policy: Policy) -> SuggestedAction:
    """What the policy's routes give the thread's worst message."""
    worst = max(
        (m for m in thread.messages if m.top is not None),
        key=lambda m: (m.route.rank, m.top.score if m.top else 0.0, -m.index),
        default=None,
    )
    if worst is None or worst.top is None or worst.route is Route.ALLOW:
        return SuggestedAction(route=Route.ALLOW, reason="no rule or category fired: no action")
    top = worst.top
    category = policy.categories.get(top.category)
    where = f"message {worst.index + 1} by {worst.who}"
    if worst.route is Route.ACT and category is not None:
        return SuggestedAction(
            route=Route.ACT,
            category=top.category,
            actions=category.on_act,
            reason=clip(f"{top.category} {top.score:.2f} reaches act in {where}"),
        )
    band = "the frontier model's band" if worst.route is Route.ESCALATE else "the review band"
    return SuggestedAction(
        route=worst.route,
        category=top.category,
        reason=clip(f"{top.category} {top.score:.2f} is in {band} in {where}: a moderator decides"),
    )


def participants_of(thread: Thread) -> tuple[Participant, ...]:
    """Authors by message count (then first appearance), with what they did in a few words."""
    order: dict[str, list[ThreadMessage]] = {}
    for message in thread.messages:
        order.setdefault(message.who, []).append(message)
    people = []
    for who, theirs in order.items():
        flagged = [m for m in theirs if _flagged(m)]
        categories = sorted({m.top.category for m in flagged if m.top is not None})
        links = len(find_links([m.text for m in theirs]))
        did = f"wrote {len(theirs)} message(s)"
        if categories:
            did += f"; flagged: {', '.join(categories)} in {len(flagged)}"
        if links:
            did += f"; shared {links} link(s)"
        people.append(
            Participant(
                who=who, user=theirs[0].user, messages=len(theirs), flagged=len(flagged), did=did
            )
        )
    return tuple(sorted(people, key=lambda p: -p.messages))


class ExtractiveSummariser:
    """Implements :class:`Summariser` with an :class:`~bot.classifiers.encoder.Encoder`: the
    in-process one by default, or the same vectors from vLLM (``MODTRIAGE_ENCODER``)."""

    def __init__(self, *, encoder: Encoder) -> None:
        self._encoder = encoder
        self.name = f"extractive:{encoder.name}"

    async def summarise(self, thread: Thread, policy: Policy) -> ThreadSummary:
        """Raises what the encoder raises (ClassifierError subclasses)."""
        messages = thread.messages
        vectors = await self._encoder.embed([m.text for m in messages])
        centroid = vectors.mean(axis=0)
        centroid = centroid / max(float(np.linalg.norm(centroid)), 1e-12)
        centrality = [float(v) for v in vectors @ centroid]
        chosen: list[int] = []
        if thread.focus is not None:
            chosen.append(thread.focus)
        flagged = sorted(
            (m for m in messages if _flagged(m) and m.index not in chosen),
            key=lambda m: (-(m.top.score if m.top else 0.0), m.index),
        )
        chosen += [m.index for m in flagged[: max(0, _FLAGGED_MAX - len(chosen))]]
        central = sorted(range(len(messages)), key=lambda i: (-round(centrality[i], 6), i))
        chosen += [i for i in central if i not in chosen][: max(0, GIST_LINES - len(chosen))]
        excerpts = tuple(
            Excerpt(
                index=i,
                who=messages[i].who,
                text=clip(messages[i].text),
                centrality=round(centrality[i], 4),
                flags=tuple(_flag(e) for e in messages[i].evidence if e.route is not Route.ALLOW),
            )
            for i in sorted(chosen[:GIST_LINES])
        )
        rules = rules_of(thread)
        return ThreadSummary(
            method="extractive",
            model=self._encoder.name,
            case_id=thread.case_id,
            messages=len(messages),
            gist=tuple(_gist_line(e) for e in excerpts),
            participants=participants_of(thread),
            applies=applies_of(rules),
            rules=rules,
            links=find_links([m.text for m in messages]),
            suggested=suggest(thread, policy),
            excerpts=excerpts,
        )


def _gist_line(excerpt: Excerpt) -> str:
    mark = f" [{excerpt.flags[0].split(' (')[0]}]" if excerpt.flags else ""
    return clip(f"{excerpt.who}: {excerpt.text}", GIST_CHARS - len(mark)) + mark
