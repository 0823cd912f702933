"""``/mod setup`` as Discord sends it: a channel option (type 7) and a role option (type 8),
with their ``resolved`` data, which :meth:`FakeDiscord.slash` does not build."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tests.discord.fake_discord import FakeDiscord

Json = Any


async def slash_setup(
    fake: FakeDiscord, *, channel: str, role: str | None, user: str = "morgan"
) -> Json:
    """A member types ``/mod setup channel:#<channel> role:@<role>`` (names from the guild)."""
    payload = fake._interaction("interaction_command", user)
    picked = next(c for c in fake.guild["channels"] if c["name"] == channel)
    options: list[Json] = [{"name": "channel", "type": 7, "value": picked["id"]}]
    resolved: Json = {
        "channels": {
            picked["id"]: {
                "id": picked["id"], "type": picked["type"], "name": picked["name"],
                "permissions": "2251799813685247", "parent_id": None,
            }
        }
    }  # fmt: skip
    if role is not None:
        found = next(r for r in fake.guild["roles"] if r["name"] == role)
        options.append({"name": "role", "type": 8, "value": found["id"]})
        resolved["roles"] = {found["id"]: found}
    payload["data"]["options"] = [{"name": "setup", "type": 1, "options": options}]
    payload["data"]["resolved"] = resolved
    await fake.dispatch("INTERACTION_CREATE", payload)
    return payload
