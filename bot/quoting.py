"""Member text inside the prompts modtriage builds: quoted so that it cannot forge structure.

A message is data inside a prompt, never structure. :func:`escape_member_text`:

- swaps the angle brackets of tag-like sequences (``<|im_start|>``, ``</message>``,
  ``<end_of_turn>``, ``<BEGIN CONVERSATION>``) for look-alikes (‹ ›), so no tokenizer turns
  them into special tokens and no delimiter can be closed from inside;
- writes line breaks as `` ⏎ ``, so a message is one line and cannot start a line of its own
  ("\\n\\nUser: what time is it?" in Llama Guard's format, "\\nuser3: ..." in a thread);
- swaps the colon of a role or speaker prefix at the start of a line ("Agent:", "User:",
  "user3:") for a look-alike (∶), so it reads as words, not as a turn.

The model still reads every word.
"""

from __future__ import annotations

import re

__all__ = ["LINE_BREAK", "escape_member_text"]

LINE_BREAK = " ⏎ "

_TAG = re.compile(r"<\s*/?\s*\|?\s*[A-Za-z_][A-Za-z0-9_ .:-]{0,40}\|?\s*/?\s*>")
_BREAKS = re.compile(r"[ \t]*[\r\n\x0b\x0c\x85\u2028\u2029][\s]*")
_ROLE = re.compile(
    r"^([ \t]*(?:user|agent|assistant|system|human|model|ai|bot|moderator|developer|tool)"
    r"(?:[ \t]?(?:question|response|\d{1,6}))?[ \t]*):",
    re.IGNORECASE | re.MULTILINE,
)


def escape_member_text(text: str) -> str:
    """``text`` as one line that cannot close a delimiter, open a turn or forge a speaker."""
    text = _TAG.sub(lambda m: m.group(0).replace("<", "‹").replace(">", "›"), text)
    text = _ROLE.sub(r"\1∶", text)
    return _BREAKS.sub(LINE_BREAK, text.strip("\r\n\x0b\x0c\x85\u2028\u2029"))
