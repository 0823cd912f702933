"""Regular expressions written in policy files, bounded so that no message can stall a worker.

A pattern that backtracks (``(a+)+$``, ``free.*nitro.*now``) can take seconds to minutes on one
long message, with the event loop blocked. Two guards, both from the ``regex`` package's
``timeout=``:

- at load, :func:`check_pattern` runs the pattern on hostile messages of Slack's maximum length
  built from its own words and refuses it, naming the fix, if one of them runs past
  :data:`PROBE_TIMEOUT_S`;
- per message, :class:`BoundedPattern` gives up after :data:`MATCH_TIMEOUT_S`, so an input the
  probes did not foresee costs a bounded time (the rules stage sends that message to review).
"""

from __future__ import annotations

import regex

__all__ = [
    "HOSTILE_LENGTH",
    "MATCH_TIMEOUT_S",
    "PROBE_TIMEOUT_S",
    "BoundedPattern",
    "check_pattern",
]

#: Slack's longest message; Discord's is 4,000 characters.
HOSTILE_LENGTH = 40_000
#: A linear pattern reads 40,000 characters in a few milliseconds; a backtracking one takes
#: seconds or more. The bar sits between the two with room for a busy machine.
PROBE_TIMEOUT_S = 0.1
MATCH_TIMEOUT_S = 0.1

_UNITS = ("a", "a.", "a ", "a-", " ", "1", "x", "_", "\n")
_WORDS = regex.compile(r"[A-Za-z0-9]+")
_FIX = (
    "bound every repetition, e.g. .{0,40} instead of .* or .+, and do not repeat a group that "
    "itself repeats or has overlapping alternatives, like (a+)+ or (a|aa)+"
)


class BoundedPattern:
    """A case-insensitive pattern whose every search gives up after ``timeout_s``."""

    def __init__(self, *, pattern: str, timeout_s: float = MATCH_TIMEOUT_S) -> None:
        self.pattern = pattern
        self._compiled = regex.compile(pattern, regex.IGNORECASE)
        self._timeout_s = timeout_s

    @property
    def timeout_s(self) -> float:
        return self._timeout_s

    def search(self, text: str) -> regex.Match[str] | None:
        """The first match in ``text``, or None.

        Raises:
            TimeoutError: the search ran past ``timeout_s`` (the pattern backtracks on ``text``).
        """
        return self._compiled.search(text, timeout=self._timeout_s)


def _probes(pattern: str) -> list[str]:
    """Hostile messages for ``pattern``: its own words and some usual units, repeated to Slack's
    maximum and ended by a character that matches nothing, so a match has to fail late."""
    words = dict.fromkeys(w.lower() for w in _WORDS.findall(pattern))
    units = [*_UNITS, *words, *(f"{w} " for w in words), *(w[:1] for w in words)]
    end = "\x00"
    return [
        (unit * (HOSTILE_LENGTH // len(unit) + 1))[: HOSTILE_LENGTH - 1] + end
        for unit in dict.fromkeys(units)
    ]


def check_pattern(pattern: str) -> None:
    """Refuse a pattern that does not compile or that backtracks on a hostile message.

    Raises:
        ValueError: the message says what is wrong and how to write the pattern instead.
    """
    try:
        bounded = BoundedPattern(pattern=pattern, timeout_s=PROBE_TIMEOUT_S)
    except regex.error as exc:
        raise ValueError(f"{pattern!r} is not a valid regular expression: {exc}") from exc
    for probe in _probes(pattern):
        try:
            bounded.search(probe)
        except TimeoutError:
            raise ValueError(
                f"{pattern!r} backtracks: on a {HOSTILE_LENGTH:,}-character message of "
                f"{probe[:12]!r}… it ran past {PROBE_TIMEOUT_S} s and would stall a worker; "
                f"{_FIX}"
            ) from None
