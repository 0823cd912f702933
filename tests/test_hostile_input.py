"""Hostile input never stalls a worker: every rule and policy pattern on Slack's largest message.

Timings are bounded generously (machines are noisy): a 40,000-character message that used to
block the event loop for 44 s must finish well under a second.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import yaml

from bot.errors import PolicyError
from bot.message import Author, Message
from bot.pipeline.rules import MAX_EVIDENCE_PER_RULE, RuleBook, find_links
from bot.policy import LinkRules, Policy, load_policy
from bot.verdict import Route
from tests.conftest import DEFAULT_POLICY

SLACK_MAX = 40_000


def _fill(unit: str, tail: str = "") -> str:
    return (unit * (SLACK_MAX // len(unit) + 1))[: SLACK_MAX - len(tail)] + tail


HOSTILE = {
    "dotted-letters": _fill("a."),  # the reported one: 44 s before the fix
    "dotted-digits": _fill("1."),
    "dotted-then-tld": _fill("a.", "com/"),
    "hyphens": _fill("a-"),
    "one-letter": _fill("a"),
    "stretched": _fill("i"),
    "spaced-letters": _fill("f a "),
    "www": _fill("www."),
    "schemes": _fill("http://"),
    "mention-openers": _fill("<@"),
    "unclosed-mention": "<@" + _fill("a")[2:],
    "everyone": _fill("@everyone "),
    "zero-width": _fill("\u200b"),
    "emoji": _fill("🙂"),
    "free": _fill("free "),
    "airdrop": _fill("airdrop claim "),
    "verify": _fill("verify seed "),
    "leet": _fill("4$$ "),
    "distinct-words": " ".join(f"w{i}" for i in range(8000))[:SLACK_MAX],
}


def _message(text: str) -> Message:
    return Message(
        platform="slack", workspace="T1", channel="C1", id="m1", author=Author(id="U1"), text=text
    )


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_every_rule_finishes_quickly_on_slacks_largest_hostile_message(
    name: str, default_policy: Policy
) -> None:
    book = RuleBook(policy=default_policy)
    started = time.perf_counter()
    book.evidence(_message(HOSTILE[name]))
    # Not a speed test (that is `make bench`): the backtracking patterns took 44 s on this
    # input and fixed ones take well under a second, so 15 s tells them apart on a loaded
    # CI machine too.
    assert time.perf_counter() - started < 15.0


def test_a_long_dotted_domain_is_still_a_link() -> None:
    text = "claim at a.b.c.d.e.f.evil.ru/gift now"
    assert [host for _, host, _, _ in find_links(text)] == ["a.b.c.d.e.f.evil.ru"]


def _policy_with(tmp_path: Path, patterns: list[str]) -> Path:
    data = yaml.safe_load(DEFAULT_POLICY.read_text())
    data["rules"]["links"]["scam_patterns"] = patterns
    path = tmp_path / "policy.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


@pytest.mark.parametrize(
    "pattern",
    [
        r"(\w+\s?)+$",  # nested repetition: exponential
        r"(a|aa)+$",  # overlapping alternatives
        r"free.*nitro.*now",  # unbounded gaps: quadratic on a long message
    ],
)
def test_a_policy_pattern_that_backtracks_stops_start_up(tmp_path: Path, pattern: str) -> None:
    path = _policy_with(tmp_path, ["free\\s+nitro", pattern])
    started = time.perf_counter()
    with pytest.raises(PolicyError) as caught:
        load_policy(path)
    assert time.perf_counter() - started < 5.0
    error = caught.value
    assert error.file == str(path)
    assert error.key == "rules.links.scam_patterns"
    assert repr(pattern) in error.problem
    assert "backtrack" in error.problem
    assert ".{0,40}" in error.fix


def test_the_default_scam_patterns_pass_the_load_check() -> None:
    policy = load_policy(DEFAULT_POLICY)
    assert policy.rules.links.scam_patterns


def test_a_pattern_that_slipped_past_the_check_is_cut_off_and_sent_to_review(
    default_policy: Policy,
) -> None:
    # model_construct skips validation, as a policy built before the check existed would.
    links = LinkRules.model_construct(scam_patterns=(r"(x+x+)+y",))
    rules = default_policy.rules.model_copy(update={"links": links})
    book = RuleBook(policy=default_policy.model_copy(update={"rules": rules}))
    started = time.perf_counter()
    evidence = book.evidence(_message("x" * 5000))
    assert time.perf_counter() - started < 2.0
    [gave_up] = [e for e in evidence if e.rule == "link:scam"]
    assert gave_up.route is Route.REVIEW
    assert gave_up.note is not None
    assert "gave up" in gave_up.note


@pytest.mark.parametrize(
    ("text", "rules"),
    [
        # Shown as "go home you wetback": the slur acts, and the override is on the verdict.
        ("\u202ekcabtew uoy emoh og\u202c", ["deny:wetback", "bidi"]),
        ("see \u2067this\u2069 later", ["bidi"]),  # an isolate alone: a person looks
        ("שלום \u200fחברים", []),  # right-to-left marks are ordinary in Hebrew and Arabic
    ],
)
def test_bidi_controls_are_evidence_and_reversed_slurs_act(
    default_policy: Policy, text: str, rules: list[str]
) -> None:
    evidence = RuleBook(policy=default_policy).evidence(_message(text))
    assert [e.rule for e in evidence] == rules
    routes = {e.rule: e.route for e in evidence}
    if "deny:wetback" in routes:
        assert routes["deny:wetback"] is Route.ACT
        [deny] = [e for e in evidence if e.rule == "deny:wetback"]
        assert deny.matched == "kcabtew"
        assert deny.note is not None
        assert "right-to-left" in deny.note
    if "bidi" in routes:
        assert routes["bidi"] is Route.REVIEW


def test_a_million_characters_of_slurs_and_invites_carry_bounded_evidence(
    default_policy: Policy,
) -> None:
    """A flood in one message still acts, but the verdict names a handful of hits, not one
    per hit (37,000 invite links made a 4.7 MB verdict, copied into its case)."""
    book = RuleBook(policy=default_policy)
    text = ("discord.gg/raid f4gg0t " * 40_000)[:1_000_000]
    found = book.evidence(_message(text))
    by_rule: dict[str, int] = {}
    for item in found:
        by_rule[item.rule] = by_rule.get(item.rule, 0) + 1
    assert by_rule == {"deny:faggot": 1, "link:invite": MAX_EVIDENCE_PER_RULE}
    invites = [e for e in found if e.rule == "link:invite"]
    assert invites[-1].note == "more links like it not listed"
    assert all(e.route is Route.ACT for e in found)
