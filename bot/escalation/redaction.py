"""What leaves the machine: personal data replaced by placeholders that are stable per case.

A :class:`Redactor` is made for one case. It replaces, in every text it is given:

- user mentions (``<@U123>``, ``<@!123>``), raw Slack user ids (``U024BE7LH``) and thread
  participants mentioned by name (``@Alice``) by pseudonyms ``user1``, ``user2``, ... in order
  of first appearance. A display name is replaced only after an ``@``: members choose their
  names, and a member named "Kill Yourself Tonight" must not rewrite what they wrote;
- e-mail addresses (also written ``name[at]domain[dot]com``), IP addresses (v4 and v6), card
  numbers (13 to 19 digits that pass the Luhn check), IBANs (either case) and other long
  account-like digit runs, and phone numbers by numbered placeholders (``[email1]``, ...);
- API keys and tokens (Anthropic, OpenAI, GitHub, AWS access key ids, JWTs, Slack and Discord
  tokens) and webhook paths (Slack, Discord) by ``[secret1]``, credentials in URLs
  (``ftp://user:pass@host``) by ``[credentials1]``;
- URL query strings and fragments (the host and path stay: they often carry the meaning).

The same value always gets the same placeholder within a case, and numbering depends only on
the order in which values appear, so two identical conversations redact identically (the
escalation cache relies on it). :attr:`Redactor.mapping` maps placeholders back to the
originals; it stays on this machine, in the case record the moderator sees.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable

from bot.message import Author

__all__ = ["Redactor", "iban_valid", "luhn_valid"]

_MENTION = re.compile(r"<@[!&]?([A-Za-z0-9]+)(?:\|[^>]*)?>")
_CHANNEL = re.compile(r"<#([A-Za-z0-9]+)(?:\|[^>]*)?>")
_EMAIL = re.compile(r"(?<![\w.+-])[\w.+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
_AT = r"\s?(?:\[at\]|\(at\)|\{at\}|<at>)\s?"
_DOT = r"\s?(?:\[dot\]|\(dot\)|\{dot\}|<dot>|\.)\s?"
_SPELLED_EMAIL = re.compile(
    rf"(?<![\w.+-])[\w.+-]+{_AT}[A-Za-z0-9-]+(?:{_DOT}[A-Za-z0-9-]+){{0,6}}{_DOT}[A-Za-z]{{2,24}}\b",
    re.IGNORECASE,
)
_URL = re.compile(r"\b(?:[a-z][a-z0-9+.-]{1,15}://|www\.)[^\s<>\"']+", re.IGNORECASE)
_USERINFO = re.compile(r"^([a-z][a-z0-9+.-]*://)([^/?#@]+)@", re.IGNORECASE)
_WEBHOOK = re.compile(
    r"^((?:https?://)?(?:hooks\.slack\.com/"
    r"|(?:(?:canary|ptb)\.)?discord(?:app)?\.com/api/(?:v\d+/)?webhooks/))([^?#]+)",
    re.IGNORECASE,
)
_SECRET = re.compile(
    r"\bsk-ant-[A-Za-z0-9_-]{16,}"
    r"|\bsk-(?:proj-)?[A-Za-z0-9_-]{20,}"
    r"|\b(?:ghp|gho|ghu|ghs|ghr)_[A-Za-z0-9]{20,}|\bgithub_pat_[A-Za-z0-9_]{20,}"
    r"|\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"
    r"|\beyJ[A-Za-z0-9_-]{4,}\.eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}"
    r"|\bxox[abposre]-[A-Za-z0-9-]{10,}|\bxapp-[A-Za-z0-9-]{10,}"
    r"|\b[MNO][A-Za-z0-9_-]{23,27}\.[A-Za-z0-9_-]{6}\.[A-Za-z0-9_-]{27,40}\b"  # Discord bot
)
_SLACK_ID = re.compile(r"\b[UW](?=[A-Z0-9]{0,10}\d)[A-Z0-9]{8,10}\b")
_OCTET = r"(?:25[0-5]|2[0-4]\d|1?\d?\d)"
_IPV4 = re.compile(rf"(?<![\d.]){_OCTET}(?:\.{_OCTET}){{3}}(?![\d.]\d)")
_IPV6 = re.compile(
    r"(?<![:\w])(?:[0-9A-Fa-f]{1,4}:){2,7}(?::|[0-9A-Fa-f]{1,4})(?:(?::[0-9A-Fa-f]{1,4})+)?(?![:\w])"
    r"|(?<![:\w])(?:[0-9A-Fa-f]{1,4}:){1,6}:(?:[0-9A-Fa-f]{1,4}(?::[0-9A-Fa-f]{1,4})*)?(?![:\w])"
)
_IBAN = re.compile(
    r"\b[A-Z]{2}\d{2}(?:[ ]?[A-Z0-9]{4}){2,7}(?:[ ]?[A-Z0-9]{1,3})?\b", re.IGNORECASE
)
# Digit groups separated by single spaces or dashes: card, account or phone candidates.
_DIGITS = re.compile(r"(?<![\w+])\+?\(?\d[\d() .-]{5,}\d(?![\w])")
_DATE = re.compile(r"\d{4}([-/.])\d{1,2}\1\d{1,2}|\d{1,2}([-/.])\d{1,2}\2\d{2,4}")


def luhn_valid(digits: str) -> bool:
    """The Luhn checksum that every payment card number satisfies."""
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char)
        if index % 2:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return total % 10 == 0


def iban_valid(iban: str) -> bool:
    """The ISO 13616 mod-97 check of an IBAN written without spaces."""
    moved = (iban[4:] + iban[:4]).upper()
    if not moved.isalnum():
        return False
    return int("".join(str(int(ch, 36)) for ch in moved)) % 97 == 1


class Redactor:
    """Redacts the texts of one case. Not thread-safe; make one per case."""

    def __init__(self, *, participants: Iterable[Author] = ()) -> None:
        self.mapping: dict[str, str] = {}
        self._by_value: dict[tuple[str, str], str] = {}
        self._counts: dict[str, int] = {}
        self._names: list[tuple[re.Pattern[str], str]] = []
        for participant in participants:
            self.add_participant(participant)

    def add_participant(self, participant: Author) -> str:
        """Register a participant; returns their pseudonym."""
        pseudonym = self.pseudonym(participant.id)
        if participant.name:
            self.mapping[pseudonym] = f"{participant.id} ({participant.name})"
        for name in _name_forms(participant.name):
            if any(p.pattern == _name_pattern(name).pattern for p, _ in self._names):
                continue
            self._names.append((_name_pattern(name), pseudonym))
        self._names.sort(key=lambda item: len(item[0].pattern), reverse=True)
        return pseudonym

    def pseudonym(self, user_id: str) -> str:
        """The stable pseudonym of a platform user id within this case."""
        return self._placeholder("user", user_id, fmt="{kind}{n}")

    def redact(self, text: str) -> str:
        """``text`` with every kind of personal data above replaced."""
        text = _MENTION.sub(lambda m: "@" + self.pseudonym(m.group(1)), text)
        text = _CHANNEL.sub(lambda m: "#" + self._channel(m.group(1)), text)
        text = _SECRET.sub(lambda m: self._placeholder("secret", m.group()), text)
        text = _URL.sub(self._url, text)  # before e-mail: "ftp://user:pass@host" is a URL
        text = _EMAIL.sub(lambda m: self._placeholder("email", m.group()), text)
        text = _SPELLED_EMAIL.sub(lambda m: self._placeholder("email", m.group()), text)
        text = _IPV4.sub(lambda m: self._placeholder("ip", m.group()), text)
        text = _IPV6.sub(self._ipv6, text)
        text = _IBAN.sub(self._iban, text)
        text = _SLACK_ID.sub(lambda m: self.pseudonym(m.group()), text)
        text = _DIGITS.sub(self._digits, text)
        for pattern, pseudonym in self._names:
            text = pattern.sub(_keep_at(pseudonym), text)
        return text

    def _placeholder(self, kind: str, value: str, *, fmt: str = "[{kind}{n}]") -> str:
        key = (kind, value)
        found = self._by_value.get(key)
        if found is None:
            self._counts[kind] = self._counts.get(kind, 0) + 1
            found = fmt.format(kind=kind, n=self._counts[kind])
            self._by_value[key] = found
            self.mapping[found] = value
        return found

    def _channel(self, channel_id: str) -> str:
        return self._placeholder("channel", channel_id, fmt="{kind}{n}")

    def _url(self, match: re.Match[str]) -> str:
        url = match.group()
        trail = ""
        while url and url[-1] in ".,;:!?)]":
            trail = url[-1] + trail
            url = url[:-1]
        url = _USERINFO.sub(
            lambda m: m.group(1) + self._placeholder("credentials", m.group(2)) + "@", url
        )
        url = _WEBHOOK.sub(lambda m: m.group(1) + self._placeholder("secret", m.group(2)), url)
        cut = min((i for i in (url.find("?"), url.find("#")) if i >= 0), default=-1)
        if cut < 0:
            return url + trail
        return url[:cut] + self._placeholder("query", url[cut:], fmt="?[{kind}{n}]") + trail

    def _iban(self, match: re.Match[str]) -> str:
        value = match.group()
        compact = value.replace(" ", "")
        if not value.isupper() and not iban_valid(compact):
            return value  # lower-case words and digits that only look like an IBAN
        return self._placeholder("account", compact.upper())

    def _ipv6(self, match: re.Match[str]) -> str:
        value = match.group()
        if value.count(":") < 2 or not any(c.isdigit() for c in value):
            return value  # "a:b" or a time like "12:30" is not an address
        return self._placeholder("ip", value)

    def _digits(self, match: re.Match[str]) -> str:
        value = match.group()
        digits = re.sub(r"\D", "", value)
        if len(digits) < 7:
            return value
        if _DATE.fullmatch(value.strip()):
            return value
        if 13 <= len(digits) <= 19 and luhn_valid(digits) and not value.startswith("+"):
            return self._placeholder("card", digits)
        phone_shaped = value.startswith(("+", "(")) or re.search(r"\d[ .-]\d", value)
        if phone_shaped and 7 <= len(digits) <= 15:
            return self._placeholder("phone", digits)
        if len(digits) >= 8:
            return self._placeholder("account", digits)
        return value


def _keep_at(pseudonym: str) -> Callable[[re.Match[str]], str]:
    """A replacement that keeps the '@' of "@name"."""

    def replace(match: re.Match[str]) -> str:
        return "@" + pseudonym if match.group().startswith("@") else pseudonym

    return replace


def _name_forms(name: str) -> list[str]:
    """A display name and, for a multi-word name, its longer words ("Jenny Smith" -> Jenny)."""
    name = name.strip().lstrip("@")
    if len(name) < 2:
        return []
    forms = [name]
    words = [w for w in re.split(r"[\s._-]+", name) if len(w) >= 3]
    if len(words) > 1:
        forms += words
    return forms


def _name_pattern(name: str) -> re.Pattern[str]:
    """A name after an '@': the plain words of a display name are the member's own choice."""
    return re.compile(r"(?<![\w@])@" + re.escape(name) + r"(?!\w)", re.IGNORECASE)
