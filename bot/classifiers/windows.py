"""The windows a sentence encoder reads a long text through.

The encoder reads at most its first 256 tokens and averages them into one vector, and it was
fine-tuned on messages of up to 48 tokens: a threat at the end of a long text is cut off, and
one at its start is drowned by what follows. After 5,000 characters of benign chat, "I will
find where you live and kill you" scored 0.12 for violence whether the last 2,000 or the last
500 characters were read (0.83 alone). So a text longer than ``width`` characters is also read
through short windows at both ends: its first and its last sentence (at most ``width``
characters of each) and its first and its last ``words`` words (the sentence may run on, a
threat often has no full stop), and the classifier keeps each category's highest score.

Measured with the shipped model and the default policy, through the head and tail excerpts
(:mod:`bot.excerpt`): of 64 threats hidden in benign chat (four threats, four paddings, four
places: after 5,000 characters, before them with and without a full stop, after 1,500), none
reached review read whole and 52 with the windows; of 80 benign instructions
over 600 characters (``../shared/data``), 3 reached review read whole and 5 with the windows.
A threat in the middle of a long text is read only as part of the whole, diluted; every
sentence as its own window would find more (and sent 13 of those 80 to review).
"""

from __future__ import annotations

import re

__all__ = ["windows"]

#: Where a sentence ends: after . ! ? … (or their CJK forms) and a space, or at a line break.
_SENTENCE_END = re.compile(r"(?<=[.!?…。！？])\s+|\n+")


def _sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENTENCE_END.split(text) if s.strip()]


def _opening(text: str, width: int) -> str:
    first = _sentences(text)[0]
    if len(first) <= width:
        return first
    cut = first.rfind(" ", width // 2, width)
    return first[: cut if cut > 0 else width]


def _closing(text: str, width: int) -> str:
    last = _sentences(text)[-1]
    if len(last) <= width:
        return last
    tail = last[-width:]
    cut = tail.find(" ", 0, width // 2)
    return tail[cut + 1 :] if cut >= 0 else tail


def windows(text: str, *, width: int = 120, words: int = 12) -> tuple[str, ...]:
    """``(text,)`` for a text of at most ``width`` characters (or blank); else the text and its
    windows at both ends (see the module), without repeats."""
    if len(text) <= width or not text.strip():
        return (text,)
    found = [text, _opening(text, width), _closing(text, width)]
    split = text.split()
    if len(split) > words:
        found += [" ".join(split[:words]), " ".join(split[-words:])]
    return tuple(dict.fromkeys(found))
