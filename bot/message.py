"""The one internal message type every adapter produces."""

from __future__ import annotations

import hashlib
import re
import unicodedata
from datetime import UTC, datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

__all__ = ["MAX_TEXT_CHARS", "Author", "Message", "Platform", "clean_text"]

Platform = Literal["slack", "discord", "console"]

#: Longer texts are refused at the adapter; the model itself only ever sees a truncated prefix.
MAX_TEXT_CHARS = 1_000_000

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def clean_text(text: str) -> str:
    """Make text safe to store and serialise, changing nothing a reader would see.

    Unpaired UTF-16 surrogates (which cannot be encoded as UTF-8) become U+FFFD and C0 control
    characters other than tab and newline are dropped. Everything else, zero-width characters
    included, is kept: the rules stage needs them to see evasion attempts.
    """
    if any(0xD800 <= ord(ch) <= 0xDFFF for ch in text):
        text = "".join("\ufffd" if 0xD800 <= ord(ch) <= 0xDFFF else ch for ch in text)
    return _CONTROL.sub("", text)


class Author(BaseModel):
    """Who wrote a message, as far as the platform told us."""

    model_config = ConfigDict(frozen=True)

    id: str = Field(min_length=1)
    name: str = ""
    roles: tuple[str, ...] = ()
    is_bot: bool = False


class Message(BaseModel):
    """A chat message normalised from any platform."""

    model_config = ConfigDict(frozen=True)

    platform: Platform
    workspace: str = Field(min_length=1, description="Slack team id or Discord guild id")
    channel: str = Field(min_length=1)
    id: str = Field(min_length=1, description="platform message id (Slack ts, Discord snowflake)")
    author: Author
    text: Annotated[str, Field(max_length=MAX_TEXT_CHARS)]
    ts: datetime = Field(default_factory=lambda: datetime.now(UTC))
    thread: str | None = None
    permalink: str | None = None
    mentions: tuple[str, ...] = ()
    edited: bool = False

    @field_validator("text", mode="before")
    @classmethod
    def _clean(cls, value: object) -> object:
        return clean_text(value) if isinstance(value, str) else value

    @field_validator("ts")
    @classmethod
    def _aware(cls, value: datetime) -> datetime:
        return value if value.tzinfo else value.replace(tzinfo=UTC)

    @property
    def key(self) -> str:
        """Globally unique key: platform, workspace, channel and message id."""
        edit = f"@{self.content_hash[:8]}" if self.edited else ""
        return f"{self.platform}:{self.workspace}:{self.channel}:{self.id}{edit}"

    @property
    def content_hash(self) -> str:
        return hashlib.sha256(self.text.encode()).hexdigest()

    @property
    def is_blank(self) -> bool:
        return not self.text.strip() or all(
            unicodedata.category(ch) in {"Cf", "Zs", "Cc"} for ch in self.text
        )
