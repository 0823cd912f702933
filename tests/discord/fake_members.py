"""Members joining the fake Discord's guild: GUILD_MEMBER_ADD over the gateway, with user ids
minted at the account's creation time (as Discord's snowflakes are), so the account's age is
what the test says. A member who joined can then post with ``fake.say(..., user=name)``."""

from __future__ import annotations

import itertools
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tests.discord.fake_discord import FakeDiscord

Json = Any

_DISCORD_EPOCH_MS = 1_420_070_400_000


class Arrivals:
    """``await Arrivals(fake).join("newbie", account_age_days=0.5)``."""

    def __init__(self, fake: FakeDiscord) -> None:
        self.fake = fake
        self._ids = itertools.count(1)

    def _user_id(self, account_age_days: float) -> str:
        created_ms = int((time.time() - account_age_days * 86400) * 1000)
        return str(((created_ms - _DISCORD_EPOCH_MS) << 22) | (next(self._ids) & 0xFFF))

    async def join(
        self, username: str, *, account_age_days: float = 400.0, elsewhere: bool = False
    ) -> Json:
        """``username`` joins (``elsewhere``: the other guild, see ``join_other_guild``)."""
        member: Json = {
            "user": {
                "id": self._user_id(account_age_days),
                "username": username,
                "global_name": username.capitalize(),
                "discriminator": "0",
                "avatar": None,
            },
            "roles": [],
            "joined_at": datetime.now(UTC).isoformat(),
            "deaf": False,
            "mute": False,
            "flags": 0,
            "nick": None,
        }
        guild_id = self.fake.other_guild_id if elsewhere else self.fake.guild_id
        if not elsewhere:
            self.fake.guild["members"].append(member)
        await self.fake.dispatch("GUILD_MEMBER_ADD", {**member, "guild_id": guild_id})
        return member

    async def crowd(
        self, count: int, *, prefix: str = "raider", account_age_days: float = 400.0,
        elsewhere: bool = False,
    ) -> list[Json]:  # fmt: skip
        """``count`` members join one after another: ``raider1``, ``raider2``, ..."""
        return [
            await self.join(f"{prefix}{i}", account_age_days=account_age_days, elsewhere=elsewhere)
            for i in range(1, count + 1)
        ]
