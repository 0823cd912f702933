"""The fake Discord's routes for the moderator's toolkit: channel history and bulk delete
(purge), channel edits (slowmode) and permission overwrites (lock), and a gateway update of
the bot's own role (a permission taken away). :mod:`tests.discord.fake_discord` mounts the
routes; tests call the helpers."""

from __future__ import annotations

import copy
import re
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tests.discord.fake_discord import Call, FakeDiscord

Json = Any

#: The bot's managed role (tests/fixtures/discord/guild_create.json).
BOT_ROLE = "1200000000000000102"


def _channel(fake: FakeDiscord, channel_id: str) -> Json | None:
    return next((c for c in fake.guild["channels"] if str(c["id"]) == channel_id), None)


async def _history(fake: FakeDiscord, match: re.Match[str], call: Call) -> tuple[int, Json]:
    """GET messages, newest first, ``before`` and ``limit`` as Discord reads them."""
    channel = match["channel"]
    before = int(call.query.get("before", "0") or 0)
    limit = int(call.query.get("limit", "50"))
    found = sorted(
        (
            m
            for m in fake.messages.values()
            if m["channel_id"] == channel and (not before or int(m["id"]) < before)
        ),
        key=lambda m: int(m["id"]),
        reverse=True,
    )[:limit]
    return 200, [{k: v for k, v in m.items() if k not in {"member", "guild_id"}} for m in found]


async def _bulk_delete(fake: FakeDiscord, match: re.Match[str], call: Call) -> tuple[int, Json]:
    ids = [str(i) for i in (call.body or {}).get("messages", [])]
    if not 2 <= len(ids) <= 100:
        return 400, {"message": "Invalid Form Body", "code": 50035}
    for message_id in ids:
        fake.messages.pop(message_id, None)
    return 204, None


async def _delete_one(fake: FakeDiscord, match: re.Match[str], call: Call) -> tuple[int, Json]:
    fake.messages.pop(match["message"], None)
    return 204, None


async def _edit_channel(fake: FakeDiscord, match: re.Match[str], call: Call) -> tuple[int, Json]:
    channel = _channel(fake, match["channel"])
    if channel is None:
        return 404, {"message": "Unknown Channel", "code": 10003}
    channel.update(call.body or {})
    return 200, {**copy.deepcopy(channel), "guild_id": fake.guild_id}


async def _overwrite(fake: FakeDiscord, match: re.Match[str], call: Call) -> tuple[int, Json]:
    channel = _channel(fake, match["channel"])
    if channel is None:
        return 404, {"message": "Unknown Channel", "code": 10003}
    kept = [o for o in channel["permission_overwrites"] if o["id"] != match["target"]]
    if call.method == "PUT":
        kept.append({"id": match["target"], **(call.body or {})})
    channel["permission_overwrites"] = kept
    return 204, None


ROUTES: list[tuple[str, str, Any]] = [
    ("GET", r"/channels/(?P<channel>\d+)/messages", _history),
    ("POST", r"/channels/(?P<channel>\d+)/messages/bulk-delete", _bulk_delete),
    ("DELETE", r"/channels/(?P<channel>\d+)/messages/(?P<message>\d+)", _delete_one),
    ("PATCH", r"/channels/(?P<channel>\d+)", _edit_channel),
    ("PUT", r"/channels/(?P<channel>\d+)/permissions/(?P<target>\d+)", _overwrite),
    ("DELETE", r"/channels/(?P<channel>\d+)/permissions/(?P<target>\d+)", _overwrite),
]


async def set_bot_permissions(fake: FakeDiscord, permissions: int) -> None:
    """An administrator edits the bot's role: GUILD_ROLE_UPDATE over the gateway."""
    role = next(r for r in fake.guild["roles"] if r["id"] == BOT_ROLE)
    role["permissions"] = str(permissions)
    await fake.dispatch("GUILD_ROLE_UPDATE", {"guild_id": fake.guild_id, "role": role})
