"""Who is asking: a moderator or a member, as an adapter identified them."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from bot.message import Platform
from bot.tenant import Tenant

__all__ = ["Actor"]


class Actor(BaseModel):
    """``roles`` are what the platform vouches for: on Discord role ids, on Slack ``admin`` and
    ``owner`` from the member's own flags and ``usergroup:<handle>`` for each user group.
    ``role_names`` are for display only and never grant anything."""

    model_config = ConfigDict(frozen=True)

    platform: Platform
    workspace: str
    user_id: str
    name: str = ""
    roles: tuple[str, ...] = ()
    role_names: tuple[str, ...] = ()
    is_admin: bool = False

    @property
    def tenant(self) -> Tenant:
        return Tenant(platform=self.platform, workspace=self.workspace or "-")

    def label(self) -> str:
        return f"{self.platform}:{self.user_id}"
