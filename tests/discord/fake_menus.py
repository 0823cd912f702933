"""A member's context menu on the fake Discord: the user command a right-click sends, and the
modal it opens submitted, as Discord's gateway dispatches them (payload shapes from the
recorded fixtures)."""

from __future__ import annotations

from typing import Any

from tests.discord.fake_discord import FakeDiscord

Json = dict[str, Any]


async def user_command(fake: FakeDiscord, name: str, target: str, *, user: str = "morgan") -> Json:
    """``user`` right-clicks ``target`` and picks Apps → ``name``."""
    payload = fake._interaction("interaction_message_command", user)
    member = fake.member(target)
    target_id = member["user"]["id"]
    payload["data"] = {
        "id": fake.snowflake(), "name": name, "type": 2, "guild_id": fake.guild_id,
        "target_id": target_id,
        "resolved": {
            "users": {target_id: member["user"]},
            "members": {target_id: {k: v for k, v in member.items() if k != "user"}},
        },
    }  # fmt: skip
    await fake.dispatch("INTERACTION_CREATE", payload)
    return payload


async def submit_modal(
    fake: FakeDiscord, custom_id: str, values: dict[str, str], *, user: str = "morgan"
) -> Json:
    """``user`` fills in and submits the modal ``custom_id`` a command opened."""
    payload = fake._interaction("interaction_modal_submit", user)
    payload.pop("message", None)  # opened by a command, not from a message's button
    payload["data"] = {
        "custom_id": custom_id,
        "components": [
            {"type": 1, "components": [{"type": 4, "custom_id": k, "value": v}]}
            for k, v in values.items()
        ],
    }
    await fake.dispatch("INTERACTION_CREATE", payload)
    return payload
