"""What the models read of a long text: its head and its tail.

A text of at most ``max_chars`` characters is read whole. A longer one is read as two excerpts
that split the budget, its first and its last ``max_chars // 2`` characters (each cut at a word
boundary when one is near), so that padding cannot push a threat out of sight at either end.
The classify stage scores both excerpts in the same model call and keeps the per-category
maximum; the frontier prompt shows both, joined by an ellipsis. What lies between them is not
read: a threat in the middle of a very long text is missed.
"""

from __future__ import annotations

__all__ = ["abridged", "excerpts"]

#: Between the head and the tail of an abridged text.
ELLIPSIS = " … "


def _head(text: str, size: int) -> str:
    """The first ``size`` characters, ending at the last space of their second half."""
    head = text[:size]
    cut = head.rfind(" ", size // 2)
    return head[:cut] if cut > 0 else head


def _tail(text: str, size: int) -> str:
    """The last ``size`` characters, starting after the first space of their first half."""
    tail = text[len(text) - size :]
    cut = tail.find(" ", 0, size // 2)
    return tail[cut + 1 :] if cut >= 0 else tail


def excerpts(text: str, max_chars: int) -> tuple[str, ...]:
    """``(text,)`` when it fits ``max_chars``, else ``(head, tail)`` of about half each."""
    if len(text) <= max_chars:
        return (text,)
    half = max_chars // 2
    return (_head(text, half), _tail(text, max_chars - half))


def abridged(text: str, max_chars: int) -> str:
    """The text, or its head and tail joined by an ellipsis, in at most ``max_chars``."""
    if len(text) <= max_chars:
        return text
    head, tail = excerpts(text, max(0, max_chars - len(ELLIPSIS)))
    return head + ELLIPSIS + tail
