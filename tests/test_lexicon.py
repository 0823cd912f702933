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
