"""Redis key names for FAQ state under one namespace."""

from __future__ import annotations

from bot.message import Message
from bot.streams import Streams

__all__ = ["FaqKeys"]


class FaqKeys:
    def __init__(self, streams: Streams) -> None:
        self.prefix = f"{streams.prefix}:faq"
        self.channels = f"{self.prefix}:channels"
        self.feedback = f"{self.prefix}:feedback"

    def said(self, message: Message, faq_id: str) -> str:
        """The thread a message belongs to (itself when it starts one) and the entry."""
        thread = message.thread or message.id
        where = f"{message.platform}:{message.workspace}:{message.channel}:{thread}"
        return f"{self.prefix}:said:{where}:{faq_id}"

    def votes(self, answer: str) -> str:
        return f"{self.prefix}:votes:{answer}"
