"""How messages and actions travel through Redis (the names: :mod:`bot.keys`)."""

from __future__ import annotations

from typing import Any

import redis.asyncio as aioredis
from pydantic import ValidationError

from bot.action import ACTION_ADAPTER, Action
from bot.errors import MalformedMessage
from bot.keys import Streams
from bot.message import Message
from bot.verdict import Verdict

__all__ = ["Streams", "decode_action", "decode_message", "encode_message", "read_decision"]


async def read_decision(
    redis: aioredis.Redis, streams: Streams, message_key: str
) -> tuple[Message, Verdict] | None:
    """The stored message and verdict for a message key, or None if not decided (or expired)."""
    raw: Any = await redis.hmget(streams.verdict_key(message_key), ["message", "verdict"])
    if not raw or raw[0] is None or raw[1] is None:
        return None
    return Message.model_validate_json(raw[0]), Verdict.model_validate_json(raw[1])


def encode_message(message: Message) -> dict[str, str]:
    return {"message": message.model_dump_json()}


def decode_message(entry_id: str, fields: dict[Any, Any]) -> Message:
    """Raises MalformedMessage when the entry does not hold a valid Message."""
    raw = fields.get(b"message")
    if raw is None:
        raise MalformedMessage("no 'message' field", entry_id)
    try:
        return Message.model_validate_json(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "(message)"
        raise MalformedMessage(f"invalid message: {where}: {first['msg']}", entry_id) from exc


def decode_action(entry_id: str, fields: dict[Any, Any]) -> Action:
    raw = fields.get(b"action")
    if raw is None:
        raise MalformedMessage("no 'action' field", entry_id)
    try:
        return ACTION_ADAPTER.validate_json(raw)
    except ValidationError as exc:
        raise MalformedMessage(f"invalid action: {exc.errors()[0]['msg']}", entry_id) from exc
