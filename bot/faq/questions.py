"""Does a chat message look like a question or a request for help?

Only those are matched against the FAQ: the bot must not answer "lol same" or a code paste.
The test is deliberately lenient (a member writing "my build keeps failing" wants help too);
the matcher's thresholds do the careful part.
"""

from __future__ import annotations

import re

__all__ = ["looks_like_question"]

_OPENERS = (
    "how", "what", "whats", "what's", "why", "when", "where", "wheres", "where's", "who",
    "which", "can", "could", "is", "are", "am", "do", "does", "did", "should", "would", "will",
    "may", "might", "has", "have", "any", "anyone", "anybody", "someone", "somebody", "pls",
    "please", "help", "hows", "how's", "whys", "isnt", "isn't", "cant", "can't", "wont",
    "won't", "dont", "don't", "doesnt", "doesn't", "need", "tell", "explain",
)  # fmt: skip
_ASKS = re.compile(
    r"\b(?:how (?:do|can|to|much|long|many)|is there|are there|i (?:need|want|would like) to"
    r"|(?:can|could) (?:i|you|we|someone|anyone)|(?:any|some) (?:idea|help|advice)"
    # something is not as it should be: the commonest way members ask for help
    r"|can ?not|can'?t|couldn'?t|isn'?t|wasn'?t|hasn'?t|haven'?t|hadn'?t|didn'?t|doesn'?t"
    r"|don'?t|won'?t|not (?:working|showing|loading|arrived|received|here|there|yet|right"
    r"|correct)|never (?:arrived|received|got|came)|keeps? (?:failing|crashing)|fail(?:s|ed|ing)?"
    r"|wrong|incorrect|missing|stuck|error|broken|help)\b",
    re.IGNORECASE,
)
_WORD = re.compile(r"[\w']+")
_CODE = re.compile(r"```|^\s{4}\S", re.MULTILINE)
_MENTION = re.compile(r"<[@#!][^>]*>|@\w+")
_LINK = re.compile(r"https?://\S+")


def looks_like_question(text: str, *, max_chars: int = 600) -> bool:
    """True when ``text`` asks something: a question mark, an asking opener ("how", "can
    anyone"), or a request for help ("my card hasn't arrived", "login doesn't work").

    Too short (fewer than 3 words), too long (over ``max_chars``) or mostly code is not.
    """
    if len(text) > max_chars or _CODE.search(text):
        return False
    plain = _LINK.sub(" ", _MENTION.sub(" ", text))
    words = _WORD.findall(plain.lower())
    if len(words) < 3:
        return False
    if "?" in plain:
        return True
    if words[0] in _OPENERS or (words[0] in {"hi", "hey", "hello", "so", "ok"} and any(
        w in _OPENERS for w in words[1:3]
    )):  # fmt: skip
        return True
    return bool(_ASKS.search(plain))
