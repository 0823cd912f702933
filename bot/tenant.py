"""A tenant: one community modtriage serves, a Slack workspace or a Discord guild.

Cases, the review queue, strikes, history, shadow switches, stats, moderators and policies
belong to one tenant; a moderator of one tenant sees and touches nothing of another.
"""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import BaseModel, ConfigDict, Field

from bot.errors import ConfigError
from bot.message import Message, Platform

__all__ = ["Tenant", "named_tenant"]

_PLATFORMS: dict[str, Platform] = {"slack": "slack", "discord": "discord", "console": "console"}


class Tenant(BaseModel):
    """(platform, workspace): a Slack team id, a Discord guild id, or a console workspace."""

    model_config = ConfigDict(frozen=True)

    platform: Platform
    workspace: str = Field(min_length=1)

    def __str__(self) -> str:
        return f"{self.platform}:{self.workspace}"

    @classmethod
    def of(cls, message: Message) -> Tenant:
        return cls(platform=message.platform, workspace=message.workspace)

    @classmethod
    def parse(cls, text: str) -> Tenant:
        """``slack:T0TEAM`` or ``discord:1200000000000000001``.

        Raises:
            ValueError: not ``<platform>:<workspace>`` with a known platform.
        """
        platform, sep, workspace = text.strip().partition(":")
        if not sep or not workspace or platform not in _PLATFORMS:
            raise ValueError(
                f"{text!r} is not a tenant: write <platform>:<workspace>, e.g. slack:T0123 or "
                "discord:1200000000000000001 (platform slack, discord or console)"
            )
        return cls(platform=_PLATFORMS[platform], workspace=workspace)


def named_tenant(workspace: str | None, served: Sequence[Tenant]) -> Tenant:
    """The tenant an operator's ``--workspace`` names, else the only one ``served``.

    Raises:
        ConfigError: the name is not a tenant, or none was given and several (or every
            tenant) are served.
    """
    if workspace is not None:
        try:
            return Tenant.parse(workspace)
        except ValueError as exc:
            raise ConfigError(f"--workspace: {exc}") from exc
    if len(served) == 1:
        return served[0]
    listed = ", ".join(str(t) for t in served) or "every tenant"
    raise ConfigError(f"say which workspace with --workspace <platform>:<id> (served: {listed})")
