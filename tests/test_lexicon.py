"""Deny lists see through evasions and never match inside innocent words."""

from __future__ import annotations

import pytest

from bot.pipeline.lexicon import Lexicon
from bot.pipeline.rules import find_links

LEXICON = Lexicon(
    deny={"hate": ["faggot", "nigger"], "toxicity": ["ass", "kill yourself"]},
    allow=["assistance"],
)


@pytest.mark.parametrize(
    ("text", "matched"),
    [
        ("you f4gg0t", "f4gg0t"),  # leetspeak
        ("you FAGGOT", "FAGGOT"),  # case
        ("ｆａｇｇｏｔ", "ｆａｇｇｏｔ"),  # full-width forms (NFKC)
        ("fag\u200bgot", "fag\u200bgot"),  # zero-width space inside
        ("f\u0430gg\u043et", "f\u0430gg\u043et"),  # Cyrillic a and o (homoglyphs)
        ("fäggöt", "fäggöt"),  # accents
        ("faaaaggot", "faaaaggot"),  # letters repeated for emphasis
        ("f a g g o t", "f a g g o t"),  # spaced out
        ("f.a.g.g.o.t", "f.a.g.g.o.t"),  # dotted
        ("niiiigger", "niiiigger"),
        ("what an ass.", "ass"),
        ("k1ll y0urs3lf", "k1ll y0urs3lf"),  # multi-word terms
        ("kill   yourself", "kill   yourself"),
    ],
)
def test_evasions_are_matched(text: str, matched: str) -> None:
    hits = list(LEXICON.matches(text))
    assert [text[h.start : h.end] for h in hits] == [matched]


@pytest.mark.parametrize(
    "text",
    [
        "Can you give me some assistance?",  # Red-DiscordBot #2292
        "the class passes",
        "I visited Niger and Nigeria",  # squeezing only applies to stretched words
        "an assassin's creed fan",
        "kill the process yourself",  # not the phrase
        "a b c",
        "I have 2024 items and 1337 points",
        "",
    ],
)
def test_innocent_text_is_not_matched(text: str) -> None:
    assert list(LEXICON.matches(text)) == []


@pytest.mark.parametrize(
    ("text", "hosts"),
    [
        ("see https://docs.python.org/3/ for more", ["docs.python.org"]),
        ("join discord.gg/abc123!", ["discord.gg"]),
        (
            "www.Example.com/path, and http://evil.example.ru/x?y=1",
            ["example.com", "evil.example.ru"],
        ),
        ("no links here, just a.sentence", []),
    ],
)
def test_links_are_found_with_their_hosts(text: str, hosts: list[str]) -> None:
    assert [host for _, host, _, _ in find_links(text)] == hosts


@pytest.mark.parametrize(
    ("text", "matched"),
    [
        ("\u202etoggaf\u202c", "toggaf"),  # shown as "faggot"
        ("\u202eflesruoy llik\u202c now", "flesruoy llik"),  # shown as "kill yourself"
        ("ok \u202et0gg4f", "t0gg4f"),  # no closing mark: to the end of the line
    ],
)
def test_text_reversed_by_a_right_to_left_override_is_matched_as_shown(
    text: str, matched: str
) -> None:
    hits = list(LEXICON.matches(text))
    assert [text[h.start : h.end] for h in hits] == [matched]
    assert all(h.reversed for h in hits)


@pytest.mark.parametrize(
    ("text", "spans"),
    [
        ("toggaf", []),  # backwards without an override is shown backwards
        ("\u202eok\u202c toggaf", []),  # only the part inside the override is reversed
        ("\u202etoggaf\u202c toggaf", [(1, 7)]),
        ("\u202eok\ntoggaf", []),  # an override ends with its line
    ],
)
def test_only_text_inside_an_override_is_read_backwards(
    text: str, spans: list[tuple[int, int]]
) -> None:
    assert [(h.start, h.end) for h in LEXICON.matches(text)] == spans
