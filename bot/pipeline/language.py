"""The language a message is written in, when the text is long enough to tell.

The small model is trained on English; the policy lists the languages it handles
(``escalation.languages``) and a message in another one is escalated rather than trusted
(:func:`bot.pipeline.classify.model_evidence`). Detection uses py3langid, whose naive Bayes
model (140 languages, 4.6 MB compressed) ships inside the PyPI package: nothing is downloaded.
A detection costs tens of microseconds; the model loads once, lazily, in about half a second.

Links, mentions, channel and hashtag references and HTML entities are removed first. A text
with fewer than :data:`MIN_LETTERS` letters left, or whose best language is below
:data:`MIN_CONFIDENCE`, has no language (``None``): treated as handled, since short chat
("ok", "lol", "c'est nul") is where every detector guesses.
"""

from __future__ import annotations

import asyncio
import html
import re
import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from py3langid.langid import LanguageIdentifier

__all__ = ["MAX_CHARS", "MIN_CONFIDENCE", "MIN_LETTERS", "LanguageDetector"]

#: Letters (after removing links and mentions) below which no language is claimed.
MIN_LETTERS = 20
#: Normalised probability of the best language below which no language is claimed.
MIN_CONFIDENCE = 0.5
#: Only this much of a text is read: a language shows in its first paragraph.
MAX_CHARS = 1_000
#: Labels that are not languages ("no linguistic content", "undetermined").
_NOT_LANGUAGES = frozenset({"zxx", "und"})

_NOISE = re.compile(
    r"<[^>\s]*>"  # Slack mentions, channels and links: <@U123>, <#C1|x>, <https://...|x>
    r"|\b(?:https?://|www\.)\S+"  # bare links
    r"|[@#][\w.-]+"  # @name, #channel, #hashtag
    r"|:[a-z0-9_+-]+:",  # :emoji_names:
    re.IGNORECASE,
)


class LanguageDetector:
    """ISO 639-1 code of a text's language, or None when it is too short or unclear to tell.

    Thread-safe; the model loads on first use.
    """

    def __init__(
        self, *, min_letters: int = MIN_LETTERS, min_confidence: float = MIN_CONFIDENCE
    ) -> None:
        self._min_letters = min_letters
        self._min_confidence = min_confidence
        self._identifier: LanguageIdentifier | None = None
        self._lock = threading.Lock()

    def _model(self) -> LanguageIdentifier:
        with self._lock:
            if self._identifier is None:
                # lazy: half a second to load, and only an escalating worker needs it
                from py3langid.langid import MODEL_FILE, LanguageIdentifier

                self._identifier = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
            return self._identifier

    def detect(self, text: str) -> str | None:
        """The language of ``text``, or None (too short, no language, or unclear)."""
        cleaned = _NOISE.sub(" ", html.unescape(text[: MAX_CHARS * 2]))[:MAX_CHARS]
        if sum(ch.isalpha() for ch in cleaned) < self._min_letters:
            return None
        language, confidence = self._model().classify(cleaned)
        if language in _NOT_LANGUAGES or confidence < self._min_confidence:
            return None
        return str(language)

    async def detect_many(self, texts: Sequence[str]) -> list[str | None]:
        """:meth:`detect` for each text, in a thread (CPU work stays off the event loop)."""
        if not texts:
            return []
        return await asyncio.to_thread(lambda: [self.detect(t) for t in texts])
