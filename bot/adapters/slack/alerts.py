"""Alerts that always reach someone on Slack.

A workspace's alerts go to the channel its moderators chose with ``/mod setup`` (mentioning
their user group, ``<!subteam^ID>``), else the ``MODTRIAGE_SLACK_MODERATORS_CHANNEL``
setting, else the policy's ``moderators.channel``. With none of them a critical alert
(self-harm, sexual content involving minors, a raid) goes by DM to the workspace's owners
and admins (``users.list``), instead of being dropped; anything else stays in ``/mod queue``.
"""

from __future__ import annotations

import structlog
from pydantic import BaseModel, ConfigDict

from bot.adapters.slack.cards import Blocks
from bot.adapters.slack.directory import SlackDirectory
from bot.alerts import critical as is_critical
from bot.review.interface import Moderation
from bot.tenant import Tenant

__all__ = ["Destination", "SlackAlerts"]

log = structlog.get_logger(__name__)

NO_CHANNEL = (
    "You get this because no moderators' channel is set in this workspace: "
    "a moderator can run `/mod setup #channel @group`."
)


class Destination(BaseModel):
    """Where one alert goes: channels (or user ids, for DMs) and the group to mention."""

    model_config = ConfigDict(frozen=True)

    to: tuple[str, ...] = ()
    ping: str | None = None
    direct: bool = False

    def compose(self, text: str, blocks: Blocks | None) -> tuple[str, Blocks | None]:
        """The text and blocks to post there: the group mentioned first, or for a DM a line
        saying why the owner gets it."""
        lead: Blocks = []
        if self.ping is not None:
            text = f"<!subteam^{self.ping}> {text}"
            lead = [
                {"type": "section", "text": {"type": "mrkdwn", "text": f"<!subteam^{self.ping}>"}}
            ]
        if self.direct:
            text = f"{text}\n{NO_CHANNEL}"
            lead = [{"type": "context", "elements": [{"type": "mrkdwn", "text": NO_CHANNEL}]}]
        if blocks is None:
            return text, lead or None
        return text, [*lead, *blocks]


class SlackAlerts:
    def __init__(
        self,
        *,
        moderation: Moderation,
        directory: SlackDirectory,
        moderators_channel: str | None = None,
    ) -> None:
        self._moderation = moderation
        self._directory = directory
        self.moderators_channel = moderators_channel

    async def channel(self, workspace: str) -> tuple[str | None, str | None]:
        """The moderators' channel and the user group to mention there (either may be None)."""
        tenant = Tenant(platform="slack", workspace=workspace)
        chosen = await self._moderation.alerts_of(tenant)
        if chosen is not None:
            return chosen.channel, chosen.role
        if self.moderators_channel is not None:
            return self.moderators_channel, None
        return (await self._moderation.policy_of(tenant)).moderators.channel, None

    async def destination(self, workspace: str, *, critical: bool) -> Destination:
        channel, ping = await self.channel(workspace)
        if channel is not None:
            return Destination(to=(channel,), ping=ping)
        if not critical:
            return Destination()
        return Destination(to=await self._directory.owners(), direct=True)

    async def critical(self, workspace: str, category: str | None) -> bool:
        """Whether an alert about ``category`` must reach someone, under the current policy."""
        policy = await self._moderation.policy_of(Tenant(platform="slack", workspace=workspace))
        return is_critical(policy, category)

    async def warn_unrouted(self, tenants: list[Tenant]) -> None:
        """Say loudly, once per workspace served, that its alerts have nowhere to go."""
        for tenant in tenants:
            if (await self.channel(tenant.workspace))[0] is None:
                log.warning(
                    "no moderators' channel for this workspace: alerts only in /mod queue, "
                    "critical ones by DM to the owners and admins; run /mod setup there",
                    workspace=tenant.workspace,
                )
