"""Member notices in a community's own words: the ``notice`` template of a policy category.

A template is plain text with placeholders in braces, filled when the member is told::

    notice: "Hi! {action} because it broke {rule}: “{excerpt}”. {appeal}"

``{rule}`` the rule and its first sentence, ``{excerpt}`` the start of the member's message,
``{action}`` what was done, lower case ("your message was removed", "you are timed out for
1 hour"),
``{duration}`` a timeout's length (empty otherwise), ``{reason}`` the moderator's stated reason
(empty for the bot's own actions), ``{appeal}`` how to appeal. ``{{`` and ``}}`` are literal
braces. An unknown placeholder, a format spec or a stray brace stops the policy from loading,
naming the key; without a template the bot's own wording is used.
"""

from __future__ import annotations

import string

__all__ = ["PLACEHOLDERS", "check_template", "human_duration", "render"]

PLACEHOLDERS = ("rule", "excerpt", "action", "duration", "reason", "appeal")
_EXCERPT_CHARS = 120


def check_template(text: str) -> str:
    """``text`` when it is a valid template.

    Raises:
        ValueError: an unknown or malformed placeholder (the message lists the known ones).
    """
    known = ", ".join("{" + p + "}" for p in PLACEHOLDERS)
    try:
        fields = list(string.Formatter().parse(text))
    except ValueError as exc:
        raise ValueError(f"{exc}; write {{{{ and }}}} for literal braces") from exc
    for _, name, spec, conversion in fields:
        if name is None:
            continue
        if name not in PLACEHOLDERS:
            raise ValueError(f"unknown placeholder {{{name}}}; use {known}")
        if spec or conversion:
            raise ValueError(f"placeholder {{{name}}} takes no format; use {known}")
    return text


def render(template: str, **values: str) -> str:
    """The template filled in; ``excerpt`` is cut to a short quote, blanks are tidied and the
    first letter is a capital (``{action}`` reads lower case, as mid-sentence)."""
    filled = {p: values.get(p, "") for p in PLACEHOLDERS}
    excerpt = filled["excerpt"]
    if len(excerpt) > _EXCERPT_CHARS:
        filled["excerpt"] = excerpt[: _EXCERPT_CHARS - 1] + "…"
    text = " ".join(template.format_map(filled).split())
    return text[:1].upper() + text[1:]


def human_duration(seconds: int) -> str:
    """``3600`` → "1 hour", ``1209600`` → "2 weeks"; seconds when no unit divides it."""
    for unit, size in (("week", 604800), ("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size and seconds % size == 0:
            count = seconds // size
            return f"{count} {unit}" + ("s" if count != 1 else "")
    return f"{seconds} seconds"
