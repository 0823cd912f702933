"""Which messages the FAQ even looks at: questions and requests for help, not chatter."""

from __future__ import annotations

import pytest

from bot.faq.questions import looks_like_question


@pytest.mark.parametrize(
    "text",
    [
        "how do I install it?",
        "does this work on windows",
        "anyone know where the docs moved",
        "hey, can someone tell me the release date",
        "my card still hasn't arrived",
        "pip install keeps failing on my laptop",
        "<@U123> is there a way to get the contributor role",
        "I can't find the migration guide",
    ],
)
def test_questions_and_requests_for_help_are_considered(text: str) -> None:
    assert looks_like_question(text)


@pytest.mark.parametrize(
    "text",
    [
        "lol same",
        "thanks, that worked!",
        "great release everyone, congrats",
        "ok?",
        "```\ndef f():\n    return 1  # why?\n```",
        "why " * 400,
        "I shipped the new landing page today",
    ],
)
def test_chatter_code_and_walls_of_text_are_not(text: str) -> None:
    assert not looks_like_question(text)
