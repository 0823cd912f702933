"""The setup desk: what moderators configure from chat. Where alerts go (``/mod setup``),
switches per channel (``/mod channel``), and the policy as it stands (``/mod policy show``).
Each acts on the actor's own tenant only."""

from __future__ import annotations

from typing import Literal

from bot.alerts import AlertRoute, AlertRoutes
from bot.errors import InvalidRequest
from bot.faq.channels import FaqChannels
from bot.policy import Policy
from bot.review.actor import Actor
from bot.review.core import ServiceCore
from bot.tenant import Tenant

__all__ = ["ChannelSetting", "SetupDesk", "policy_lines"]

ChannelSetting = Literal["exempt", "shadow", "faq"]


def _bands(policy: Policy, name: str) -> str:
    t = policy.categories[name].thresholds
    return f"review {t.review:g} / escalate {t.escalate:g} / act {t.act:g}"


def policy_lines(policy: Policy, category: str | None = None) -> list[str]:
    """The policy in plain lines: a summary, or one category in full.

    Raises:
        InvalidRequest: an unknown category (the known ones are named).
    """
    if category is not None:
        spec = policy.categories.get(category)
        if spec is None:
            known = ", ".join(sorted(policy.categories))
            raise InvalidRequest(f"unknown category {category!r}; the policy has {known}")
        lines = [
            f"{category} ({spec.severity}{', support case' if spec.support else ''})",
            " ".join(spec.description.split()),
            f"thresholds: {_bands(policy, category)}",
            f"on act: {', '.join(spec.on_act) or 'nothing'}",
        ]
        if spec.deny:
            lines.append(f"deny list: {len(spec.deny)} term(s)")
        if spec.shadow:
            lines.append("shadow mode: on for this category")
        return lines
    lines = [
        f"policy {policy.name} · version {policy.version or 'unversioned'}"
        + (" · shadow mode on" if policy.shadow else ""),
    ]
    for name, spec in sorted(policy.categories.items()):
        lines.append(
            f"{name} ({spec.severity}): {_bands(policy, name)}; on act "
            f"{', '.join(spec.on_act) or 'nothing'}"
        )
    return lines


class SetupDesk(ServiceCore):
    async def set_alerts(self, actor: Actor, *, channel: str, role: str | None) -> AlertRoute:
        """Alerts of the actor's tenant go to ``channel`` (an id), pinging ``role`` (an id).

        Raises:
            PermissionDenied: the actor is not a moderator.
        """
        tenant = await self._require_moderator(actor, "set where alerts go")
        route = AlertRoute(channel=channel, role=role, by=actor.label(), at=self._clock())
        await AlertRoutes(redis=self._redis, streams=self._streams).set(tenant, route)
        return route

    async def alerts_of(self, tenant: Tenant) -> AlertRoute | None:
        """Where the tenant's moderators set alerts to go; None when they did not (adapters
        fall back to their settings, then the policy). Raises RedisError."""
        return await AlertRoutes(redis=self._redis, streams=self._streams).get(tenant)

    async def switch_channel(
        self, actor: Actor, channel: str, setting: ChannelSetting, on: bool
    ) -> None:
        """Switch a channel of the actor's tenant, for every worker at once: exempt (left
        alone: verdicts recorded, no action, no case), shadow mode (the switch of ``/mod
        shadow``) or FAQ answers (the switch of ``modtriage faq channel``).

        Raises:
            PermissionDenied: the actor is not a moderator.
        """
        tenant = await self._require_moderator(actor, f"switch {setting} in a channel")
        if setting == "shadow":
            await self._shadow.switch(tenant, actor.label(), on, channel=channel)
        elif setting == "faq":
            await FaqChannels(redis=self._redis, streams=self._streams).switch(tenant, channel, on)
        else:
            await self._shadow.exempt(tenant, actor.label(), channel, on)

    async def show_policy(self, actor: Actor, category: str | None = None) -> list[str]:
        """The tenant's current policy, in plain lines (:func:`policy_lines`).

        Raises:
            PermissionDenied: the actor is not a moderator.
            InvalidRequest: an unknown category.
        """
        tenant = await self._require_moderator(actor, "see the policy")
        return policy_lines(await self._policies.current_one(tenant), category)
