"""Deny and allow lists matched against normalised text, as whole words.

Normalisation undoes the usual evasions: compatibility forms (NFKC), zero-width and other
format characters, homoglyphs and accents (``anyascii``), case, leetspeak inside words
(``f4gg0t``), letters repeated for emphasis (``fuuuuck``) and letters spaced out
(``f a g`` or ``f.a.g``). Matching is per word, so "assistance" never matches "ass".

Text after a right-to-left override (U+202E, up to its pop U+202C, an isolate's end or the end
of the line) is shown reversed: "\u202etoggaf" reads "faggot" on screen. Words there are also
matched against each term written backwards, as the reader sees them.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from anyascii import anyascii

__all__ = ["Lexicon", "LexiconHit", "Token", "normalize", "tokens"]

_LEET = str.maketrans(
    {"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "8": "b", "9": "g",
     "@": "a", "$": "s", "!": "i", "|": "l", "+": "t", "€": "e", "£": "l"}
)  # fmt: skip
_CHUNK = re.compile(r"\S+")
_WORD = re.compile(r"[a-z0-9@$!|+€£]+")
_RUN3 = re.compile(r"(.)\1{2,}")
_RUN2 = re.compile(r"(.)\1+")
_SPACER = re.compile(r"^[\W_]*$")
_EDGE = "\"'.,;:!?()[]{}<>*_~`"
_OVERRIDE = re.compile("\u202e[^\u202c\u2069\n]*")  # right-to-left override, to its end


@dataclass(frozen=True, slots=True)
class Token:
    """A normalised word and the span of the original text it came from."""

    forms: tuple[str, ...]
    start: int
    end: int


def normalize(text: str) -> str:
    """Fold a chunk of text to plain lower-case ASCII letters and digits."""
    if text.isascii():  # NFKC, format characters and anyascii leave ASCII as it is
        return text.lower()
    text = unicodedata.normalize("NFKC", text)
    text = "".join(ch for ch in text if unicodedata.category(ch) != "Cf")
    return anyascii(text).casefold()


def _forms(word: str, *, term: bool = False) -> tuple[str, ...]:
    """The spellings a word is matched under: as written and with leetspeak undone. A word with
    a letter repeated three or more times ("niiiice") also gets its squeezed form ("~nice"),
    which only meets a term's squeezed form, so that "Niger" never matches "n...er"."""
    out: list[str] = []
    candidates = [word]
    if any(ch.isalpha() for ch in word):
        candidates.append(word.translate(_LEET))
    for candidate in candidates:
        candidate = candidate.strip("@$!|+")
        if not candidate:
            continue
        out.append(candidate)
        if term or _RUN3.search(candidate):
            out.append("~" + _RUN2.sub(r"\1", candidate))
    return tuple(dict.fromkeys(out))


def _strip_edge(raw: str, *, reverse: bool) -> str:
    """``raw`` without the punctuation and invisible format characters at one end."""
    chars = raw[::-1] if reverse else raw
    i = 0
    while i < len(chars) and (chars[i] in _EDGE or unicodedata.category(chars[i]) == "Cf"):
        i += 1
    return chars[i:][::-1] if reverse else chars[i:]


def tokens(text: str) -> list[Token]:
    """Words of ``text`` with their original spans, spaced-out letters joined into one word."""
    result: list[Token] = []
    singles: list[tuple[str, int, int]] = []
    seen: dict[str, tuple[str, ...]] = {}  # a long message repeats its words: fold each once

    def forms(word: str) -> tuple[str, ...]:
        if word not in seen:
            seen[word] = _forms(word)
        return seen[word]

    def flush() -> None:
        if len(singles) >= 3:
            joined = "".join(s for s, _, _ in singles)
            result.append(Token(forms(joined), singles[0][1], singles[-1][2]))
        singles.clear()

    for chunk in _CHUNK.finditer(text):
        folded = normalize(chunk.group())
        words = _WORD.findall(folded)
        letters = [w for w in words if w]
        if len(letters) == 1 and len(letters[0]) == 1:
            singles.append((letters[0], chunk.start(), chunk.end()))
            continue
        if len(words) >= 3 and all(len(w) == 1 for w in words):  # "f.a.g" in one chunk
            result.append(Token(forms("".join(words)), chunk.start(), chunk.end()))
            continue
        if not _SPACER.match(folded):
            flush()
        if len(folded) == len(chunk.group()):  # positions carry over: point at the word itself
            for word in _WORD.finditer(folded):
                start = chunk.start() + word.start()
                result.append(Token(forms(word.group()), start, start + len(word.group())))
            continue
        raw = chunk.group()
        start = chunk.start() + len(raw) - len(_strip_edge(raw, reverse=False))
        end = chunk.end() - (len(raw) - len(_strip_edge(raw, reverse=True)))
        for word in words:
            result.append(Token(forms(word), start, max(start, end)))
    flush()
    return result


@dataclass(frozen=True, slots=True)
class LexiconHit:
    term: str
    category: str
    start: int
    end: int
    reversed: bool = False  # written backwards inside a right-to-left override


_Parts = tuple[frozenset[str], ...]


class Lexicon:
    """Terms per category, matched as whole words (or word sequences) after normalisation."""

    def __init__(self, *, deny: dict[str, Iterable[str]], allow: Iterable[str] = ()) -> None:
        self._allow = {form for term in allow for form in _forms(normalize(term))}
        self._terms: list[tuple[_Parts, str, str]] = []
        self._backwards: list[tuple[_Parts, str, str]] = []  # as shown under an override
        for category, terms in deny.items():
            for term in terms:
                words = _WORD.findall(normalize(term))
                if not words:
                    continue
                parts = tuple(frozenset(_forms(w, term=True)) for w in words)
                self._terms.append((parts, term, category))
                backwards = tuple(frozenset(_forms(w[::-1], term=True)) for w in words[::-1])
                self._backwards.append((backwards, term, category))

    def matches(self, text: str) -> Iterator[LexiconHit]:
        words = [t for t in tokens(text) if not (set(t.forms) & self._allow)]
        found = set()
        for hit in _scan(words, self._terms, reversed_=False):
            found.add(hit.term)
            yield hit
        overrides = [m.span() for m in _OVERRIDE.finditer(text)]
        if overrides:
            inside = [t for t in words if any(s < t.start and t.end <= e for s, e in overrides)]
            backwards = [t for t in self._backwards if t[1] not in found]
            yield from _scan(inside, backwards, reversed_=True)


def _scan(
    words: list[Token], terms: list[tuple[_Parts, str, str]], *, reversed_: bool
) -> Iterator[LexiconHit]:
    """The first occurrence of each term in ``words``."""
    # Where each form occurs, so a term is tried only where its first word is: linear in the
    # text, not (terms x words) on a 40,000-character message.
    at: dict[str, list[int]] = {}
    for i, tok in enumerate(words):
        for form in tok.forms:
            at.setdefault(form, []).append(i)
    for parts, term, category in terms:
        width = len(parts)
        for i in sorted({i for form in parts[0] for i in at.get(form, ())}):
            window = words[i : i + width]
            if len(window) == width and all(
                set(tok.forms) & part for tok, part in zip(window, parts, strict=True)
            ):
                yield LexiconHit(term, category, window[0].start, window[-1].end, reversed_)
                break
