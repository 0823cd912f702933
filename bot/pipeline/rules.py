"""The deterministic, cheap first stage: deny lists, links and invites, mentions, floods and
duplicate bursts. Rate counters live in Redis so that every worker sees the same counts."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from urllib.parse import urlsplit

import redis.asyncio as aioredis

from bot.message import Message
from bot.patterns import BoundedPattern
from bot.pipeline.assessment import Assessment
from bot.pipeline.lexicon import Lexicon, normalize
from bot.pipeline.rate_counts import RateCheck, RateCounts
from bot.policy import Policy, RateRule
from bot.streams import Streams
from bot.verdict import Evidence, Route

__all__ = ["MAX_EVIDENCE_PER_RULE", "RuleBook", "RulesStage", "find_links", "has_mentions"]

#: Invite links listed as evidence for one message: enough to show a moderator, bounded for a
#: flood (each deny-listed term is listed once however often it occurs).
MAX_EVIDENCE_PER_RULE = 5

# Every repetition is bounded or cannot overlap its neighbour: on 40,000 characters of "a."
# an unbounded ``(?:[a-z0-9-]+\.)+`` took 44 s. A host has at most 8 labels of at most 63.
_URL = re.compile(
    r"(?:https?://|www\.)[^\s<>\"']+"
    r"|\b(?:[a-z0-9-]{1,63}\.){1,8}[a-z]{2,24}/[^\s<>\"']*",
    re.IGNORECASE,
)
_TEXT_MENTION = re.compile(r"<@[!&]?\w+>|@everyone\b|@here\b|@channel\b")
# Embeddings, overrides and isolates reorder what is shown; plain marks (U+200E, U+200F,
# U+061C) are ordinary in right-to-left languages and are not listed.
_BIDI = re.compile("[\u202a-\u202e\u2066-\u2069]")


def find_links(text: str) -> list[tuple[str, str, int, int]]:
    """(url, host, start, end) for every link-looking span."""
    found = []
    for match in _URL.finditer(text):
        url = match.group().rstrip(".,;:!?)>]")
        host = urlsplit(url if "://" in url else f"http://{url}").hostname or ""
        found.append((url, host.lower().removeprefix("www."), match.start(), match.end()))
    return found


def has_mentions(text: str, mentions: tuple[str, ...] = ()) -> bool:
    """Whether a message mentions anyone (``<@U…>``, ``@here``, ``@everyone`` ...)."""
    return bool(mentions) or bool(_TEXT_MENTION.search(text))


class RuleBook:
    """The rules that need no counters: deny terms, links and invites, mentions. No I/O."""

    def __init__(self, *, policy: Policy) -> None:
        self._policy = policy
        self._lexicon = Lexicon(
            deny={name: c.deny for name, c in policy.categories.items() if c.deny},
            allow=policy.rules.allow,
        )
        links = policy.rules.links
        self._invites = [BoundedPattern(pattern=p) for p in links.invite_patterns]
        self._scams = [BoundedPattern(pattern=p) for p in links.scam_patterns]

    def _gave_up(self, rule: str, pattern: BoundedPattern, matched: str | None) -> Evidence:
        """A policy pattern ran out of time on this message: a person looks at it."""
        category = self._policy.rules.links.category
        return Evidence(
            category=category,
            rule=rule,
            score=self._policy.thresholds(category).review,
            route=Route.REVIEW,
            matched=matched,
            note=f"pattern {pattern.pattern!r} gave up after {pattern.timeout_s} s on this message",
        )

    def evidence(self, message: Message) -> list[Evidence]:
        """Evidence that needs no counters: deny terms, links, mentions."""
        text = message.text
        found: list[Evidence] = []
        for hit in self._lexicon.matches(text):
            found.append(
                Evidence(
                    category=hit.category,
                    rule=f"deny:{hit.term}",
                    score=1.0,
                    route=Route.ACT,
                    matched=text[hit.start : hit.end],
                    span=(hit.start, hit.end),
                    note=(
                        "written backwards after a right-to-left override (U+202E), so it is "
                        "shown as the term"
                        if hit.reversed
                        else None
                    ),
                )
            )
        controls = sorted(set(_BIDI.findall(text)))
        if controls:
            category = self._policy.rules.links.category
            found.append(
                Evidence(
                    category=category,
                    rule="bidi",
                    score=self._policy.thresholds(category).review,
                    route=Route.REVIEW,
                    matched=", ".join(f"U+{ord(ch):04X}" for ch in controls),
                    note="bidirectional control characters change the order the text is shown in",
                )
            )
        links = self._policy.rules.links
        allowed = links.allowed_domains
        invites = 0
        for url, host, start, end in find_links(text):
            if any(host == d or host.endswith("." + d) for d in allowed):
                continue
            if not links.block_invites:
                continue
            for pattern in self._invites:
                try:
                    invite = pattern.search(url)
                except TimeoutError:
                    found.append(self._gave_up("link:invite", pattern, url[:200]))
                    break
                if invite:
                    invites += 1
                    found.append(
                        Evidence(category=links.category, rule="link:invite", score=1.0,
                                 route=Route.ACT, matched=url, span=(start, end))
                    )  # fmt: skip
                    break
            if invites == MAX_EVIDENCE_PER_RULE:
                last = found[-1]
                found[-1] = last.model_copy(update={"note": "more links like it not listed"})
                break
        folded = normalize(text)
        for pattern in self._scams:
            try:
                match = pattern.search(folded)
            except TimeoutError:
                found.append(self._gave_up("link:scam", pattern, None))
                break
            if match:
                found.append(
                    Evidence(category=links.category, rule="link:scam", score=1.0,
                             route=Route.ACT, matched=match.group())
                )  # fmt: skip
                break
        max_mentions = self._policy.rules.max_mentions
        mentions = len(set(message.mentions) | set(_TEXT_MENTION.findall(text)))
        if max_mentions is not None and mentions > max_mentions:
            found.append(
                Evidence(category=self._policy.rules.mention_category, rule="mentions",
                         score=1.0, route=Route.ACT, matched=f"{mentions} mentions")
            )  # fmt: skip
        return found


class RulesStage:
    name = "rules"

    def __init__(self, *, redis: aioredis.Redis | None, policy: Policy, streams: Streams) -> None:
        """Without ``redis`` flood and duplicate counters are not consulted (a preview)."""
        self._counts = RateCounts(redis=redis) if redis is not None else None
        self._policy = policy
        self._streams = streams
        self._book = RuleBook(policy=policy)

    async def run(self, batch: Sequence[Assessment]) -> list[Assessment]:
        rates = await self._rates([item.message for item in batch])
        return [
            item.model_copy(
                update={"evidence": (*item.evidence, *self._book.evidence(item.message), *found)}
            )
            for item, found in zip(batch, rates, strict=True)
        ]

    def _checks(self, message: Message) -> list[tuple[str, RateRule, str]]:
        rules = self._policy.rules
        who = (message.platform, message.workspace, message.channel, message.author.id)
        checks: list[tuple[str, RateRule, str]] = []
        if rules.flood is not None:
            checks.append(("flood", rules.flood, self._streams.counter("flood", *who)))
        if rules.duplicates is not None and not message.is_blank:
            digest = hashlib.sha256(normalize(message.text).encode()).hexdigest()[:16]
            key = self._streams.counter("dup", *who, digest)
            checks.append(("duplicates", rules.duplicates, key))
        return checks

    async def _rates(self, messages: Sequence[Message]) -> list[list[Evidence]]:
        """Flood and duplicate counts for a batch, in one round trip to Redis.

        Counters are sorted sets keyed by message: a redelivered message is counted once, and
        timestamps are the messages' own, so a replay counts as the conversation happened.
        """
        planned = [self._checks(message) for message in messages]
        if self._counts is None or not any(planned):
            return [[] for _ in messages]
        counts = iter(
            await self._counts.count(
                [
                    RateCheck(key=key, member=message.key, at=message.ts.timestamp(),
                              window=rule.window, ttl_s=int(rule.window) + 60)
                    for message, checks in zip(messages, planned, strict=True)
                    for _, rule, key in checks
                ]
            )
        )  # fmt: skip
        found: list[list[Evidence]] = []
        for checks in planned:
            hits = []
            for name, rule, _ in checks:
                count = next(counts)
                if count > rule.max:
                    hits.append(
                        Evidence(category=rule.category, rule=name, score=1.0, route=Route.ACT,
                                 matched=f"{count} messages in {rule.window}s")
                    )  # fmt: skip
            found.append(hits)
        return found
