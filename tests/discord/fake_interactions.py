"""What members do on the fake Discord through interactions: slash commands (with typed,
member and attachment options), a message's "Report" command, button clicks and modal
submissions, as the gateway dispatches them (payload shapes from the recorded fixtures); and
what the bot answered to each. Mixed into :class:`tests.discord.fake_discord.FakeDiscord`."""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

from tests.discord.fake_rest import fixture

if TYPE_CHECKING:
    from tests.discord.fake_discord import Call

__all__ = ["Interactions"]

Json = Any


class Interactions:
    """The member-facing half of the fake; the state (members, the CDN, the requests seen)
    is the fake's."""

    def _interaction(self, name: str, user: str) -> Json:
        payload = copy.deepcopy(fixture(name))
        member = self.member(user)
        payload["id"] = self.snowflake()
        payload["token"] = f"token-{payload['id']}"
        payload["member"]["user"] = member["user"]
        payload["member"]["roles"] = list(member["roles"])
        if not member["roles"]:
            payload["member"]["permissions"] = "2222085186637376"
        return payload

    async def slash(
        self,
        *path: str,
        user: str = "morgan",
        members: dict[str, str] | None = None,
        elsewhere: bool = False,
        permissions: str | None = None,
        channel: str | None = None,
        files: dict[str, tuple[str, bytes]] | None = None,
        **options: Json,
    ) -> Json:
        """``/mod queue`` is ``slash("queue")``; ``/mod policy reload`` is
        ``slash("policy", "reload")``. Options are typed by their Python value; ``members``
        names user options (``members={"member": "mallory"}``), resolved as Discord does;
        ``files`` attachment options (``files={"policy_file": ("p.yaml", b"...")}``)."""
        payload = self._interaction("interaction_command", user)
        typed = [
            {
                "name": k,
                "type": 5 if isinstance(v, bool) else 4 if isinstance(v, int) else 3,
                "value": v,
            }
            for k, v in options.items()
        ]
        resolved: Json = {"users": {}, "members": {}, "attachments": {}}
        for option, (filename, content) in (files or {}).items():
            attachment = self.cdn.attachment(filename, content)
            typed.append({"name": option, "type": 11, "value": attachment["id"]})
            resolved["attachments"][attachment["id"]] = attachment
        for option, username in (members or {}).items():
            member = self.member(username)
            user_id = member["user"]["id"]
            typed.append({"name": option, "type": 6, "value": user_id})
            resolved["users"][user_id] = member["user"]
            resolved["members"][user_id] = {k: v for k, v in member.items() if k != "user"} | {
                "permissions": "2222085186637376"
            }
        node: Json = {"name": path[-1], "type": 1, "options": typed}
        for parent in reversed(path[:-1]):
            node = {"name": parent, "type": 2, "options": [node]}
        payload["data"]["options"] = [node]
        if members or files:
            payload["data"]["resolved"] = resolved
        if channel is not None:  # typed in another channel than the moderators'
            payload["channel_id"] = self.channel_id(channel)
            payload["channel"].update(id=payload["channel_id"], name=channel)
        payload = self._from(payload, elsewhere, permissions)
        await self.dispatch("INTERACTION_CREATE", payload)
        return payload

    async def report(self, message: Json, *, user: str = "alice") -> Json:
        payload = self._interaction("interaction_message_command", user)
        payload["data"]["target_id"] = message["id"]
        payload["data"]["resolved"] = {"messages": {message["id"]: message}}
        await self.dispatch("INTERACTION_CREATE", payload)
        return payload

    async def click(
        self,
        message: Json,
        custom_id: str,
        *,
        user: str = "morgan",
        elsewhere: bool = False,
        permissions: str | None = None,
    ) -> Json:
        """A member clicks a button on a message the bot posted."""
        payload = self._interaction("interaction_component", user)
        payload["data"]["custom_id"] = custom_id
        return await self._on_message(payload, message, user, elsewhere, permissions)

    async def submit(
        self,
        message: Json,
        custom_id: str,
        values: dict[str, str],
        *,
        user: str = "morgan",
        elsewhere: bool = False,
        permissions: str | None = None,
    ) -> Json:
        """Submit a modal opened from a button on ``message``."""
        payload = self._interaction("interaction_modal_submit", user)
        payload["data"] = {
            "custom_id": custom_id,
            "components": [
                {"type": 1, "components": [{"type": 4, "custom_id": k, "value": v}]}
                for k, v in values.items()
            ],
        }
        return await self._on_message(payload, message, user, elsewhere, permissions)

    async def _on_message(
        self, payload: Json, message: Json, user: str, elsewhere: bool, permissions: str | None
    ) -> Json:
        """Dispatch an interaction made on ``message`` (a button, or a modal it opened)."""
        payload["message"] = message
        payload["channel_id"] = message["channel_id"]
        if message["channel_id"].startswith("19"):  # a DM: no guild, a user instead of a member
            for key in ("guild_id", "guild", "member", "channel"):
                payload.pop(key, None)
            payload["user"] = self.member(user)["user"]
            payload["context"] = 1
        payload = self._from(payload, elsewhere, permissions)
        self.interaction_messages[payload["token"]] = message
        await self.dispatch("INTERACTION_CREATE", payload)
        return payload

    def responses(self, interaction: Json) -> list[Call]:
        """What the bot answered to an interaction: the callback and any webhook edits."""
        token = interaction["token"]
        return [
            c
            for c in self.requests
            if c.path.startswith(f"/interactions/{interaction['id']}/")
            or c.path.startswith(f"/webhooks/{self.application['id']}/{token}")
        ]

    async def answered(
        self, interaction: Json, *, count: int = 1, timeout: float = 10.0
    ) -> list[Call]:
        token = interaction["token"]
        path = rf"/interactions/{interaction['id']}/{token}/callback|/webhooks/\d+/{token}.*"
        await self.wait_for_any(path, count=count, timeout=timeout)
        return self.responses(interaction)
