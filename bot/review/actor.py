"""Who is asking: a moderator or a member, as an adapter identified them."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from bot.message import Platform

__all__ = ["Actor"]


class Actor(BaseModel):
    model_config = ConfigDict(frozen=True)

    platform: Platform
    workspace: str
    user_id: str
    name: str = ""
    roles: tuple[str, ...] = ()
    is_admin: bool = False

    def label(self) -> str:
        return f"{self.platform}:{self.user_id}"
