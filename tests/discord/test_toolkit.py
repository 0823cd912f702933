"""The moderator's toolkit on Discord, read as a chat log: a moderator types ``/mod warn``,
``/mod ban``, ``/mod purge`` ...; we assert what the fake Discord received, what the case
says, and who is refused."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import discord
import pytest

from bot.review.actor import Actor
from tests.discord.conftest import MODERATOR_ROLE, DiscordStack
from tests.discord.fake_menus import submit_modal, user_command
from tests.discord.fake_toolkit import BOT_ROLE, set_bot_permissions

pytestmark = [pytest.mark.discord, pytest.mark.toolkit]

SEND_MESSAGES = 1 << 11


def _mod(stack: DiscordStack) -> Actor:
    return Actor(
        platform="discord", workspace=stack.fake.guild_id, user_id="1", roles=(MODERATOR_ROLE,)
    )


async def _said(stack: DiscordStack, interaction: Any, count: int = 1) -> str:
    answers = await stack.fake.answered(interaction, count=count)
    data = answers[-1].body.get("data", answers[-1].body)
    embeds = data.get("embeds") or []
    return str(data.get("content") or "") + "".join(
        str(e.get("title", "")) + str(e.get("description", ""))
        + "".join(f"{f['name']}: {f['value']}" for f in e.get("fields", []))
        for e in embeds
    )  # fmt: skip


async def _on(stack: DiscordStack, *path: str, member: str = "mallory", **options: Any) -> str:
    """Morgan (a moderator) types ``/mod <path> member:<member> ...``; the bot's answer."""
    members = {"member": member} if member else None
    return await _said(stack, await stack.fake.slash(*path, members=members, **options))


async def _dm_text(stack: DiscordStack, username: str) -> str:
    fake = stack.fake
    user_id = fake.user_id(username)
    [dm] = await fake.wait_for("POST", rf"/channels/{fake.dm_channel_id(user_id)}/messages")
    [embed] = dm.body["embeds"]
    return str(embed["description"])


async def test_warn_dms_the_member_and_lands_in_their_history(stack: DiscordStack) -> None:
    fake = stack.fake
    answer = await _on(stack, "warn", reason="keep it civil")
    assert answer.startswith("Case `")
    assert "warned" in answer
    warning = await _dm_text(stack, "mallory")
    assert "a moderator warned you" in warning
    assert "keep it civil" in warning

    mallory = fake.user_id("mallory")
    [case] = await stack.moderation.history(_mod(stack), mallory)
    assert (case.source, case.decision, case.status.value) == ("direct", "warn", "actioned")
    assert case.decided_by == f"discord:{fake.user_id('morgan')}"
    assert [e.detail for e in case.events] == ["warn (keep it civil)"]
    shown = await _on(stack, "history")
    assert "History of Mallory (1)" in shown
    logs = await _on(stack, "modlogs")
    assert f"Case {case.id} · warn · actioned" in logs


async def test_timeout_and_untimeout_patch_the_member(stack: DiscordStack) -> None:
    fake = stack.fake
    mallory = fake.user_id("mallory")
    before = datetime.now(UTC)
    answer = await _on(stack, "timeout", duration="2h", reason="cool off")
    assert "timed out for 2 hours" in answer
    [patch] = await fake.wait_for("PATCH", rf"/guilds/{fake.guild_id}/members/{mallory}")
    until = datetime.fromisoformat(patch.body["communication_disabled_until"])
    assert before + timedelta(hours=2) <= until <= datetime.now(UTC) + timedelta(hours=2)
    assert patch.reason is not None
    assert "cool off" in patch.reason
    assert "timed you out for 2 hours" in await _dm_text(stack, "mallory")

    assert "timeout ended" in await _on(stack, "untimeout")
    patches = await fake.wait_for("PATCH", rf"/guilds/{fake.guild_id}/members/{mallory}", count=2)
    assert patches[1].body == {"communication_disabled_until": None}
    cases = await stack.moderation.history(_mod(stack), mallory)
    assert [c.decision for c in cases] == ["untimeout", "timeout"]


async def test_kick_tells_the_member_first_then_removes_them(stack: DiscordStack) -> None:
    fake = stack.fake
    mallory = fake.user_id("mallory")
    await _on(stack, "kick", reason="spamming")
    [kick] = await fake.wait_for("DELETE", rf"/guilds/{fake.guild_id}/members/{mallory}")
    assert kick.reason is not None
    assert "spamming" in kick.reason
    [dm] = fake.calls("POST", rf"/channels/{fake.dm_channel_id(mallory)}/messages")
    assert fake.requests.index(dm) < fake.requests.index(kick)


async def test_a_ban_deletes_history_and_a_temporary_one_is_lifted_when_due(
    stack: DiscordStack,
) -> None:
    fake = stack.fake
    mallory = fake.user_id("mallory")
    answer = await _on(stack, "ban", duration="2s", delete_history="1d", reason="raid")
    assert "banned for 2 seconds until <t:" in answer
    [ban] = await fake.wait_for("PUT", rf"/guilds/{fake.guild_id}/bans/{mallory}")
    assert ban.query == {"delete_message_seconds": "86400"}  # discord.py sends it as a query
    # the unban is held in Redis and released by the dispatcher when due
    [unban] = await fake.wait_for("DELETE", rf"/guilds/{fake.guild_id}/bans/{mallory}")
    assert unban.reason is not None
    assert "temporary ban" in unban.reason
    wanted = {"warn": "performed", "ban": "performed", "lift": "performed"}
    while True:  # the dispatcher notes the outcome on the case just after the call
        [case] = await stack.moderation.history(_mod(stack), mallory)
        if {r.type: r.state for r in case.actions} == wanted:
            break
        await asyncio.sleep(0.02)


async def test_unban_lifts_a_permanent_ban(stack: DiscordStack) -> None:
    fake = stack.fake
    mallory = fake.user_id("mallory")
    await _on(stack, "ban")
    [ban] = await fake.wait_for("PUT", rf"/guilds/{fake.guild_id}/bans/{mallory}")
    assert ban.query == {"delete_message_seconds": "0"}
    assert "unbanned" in await _on(stack, "unban", reason="served")
    await fake.wait_for("DELETE", rf"/guilds/{fake.guild_id}/bans/{mallory}")


async def test_purge_deletes_one_members_last_messages_in_bulk(stack: DiscordStack) -> None:
    fake = stack.fake
    said = [await fake.say(f"buy coins {i}", user="mallory") for i in range(3)]
    await fake.say("hello all", user="alice")
    general = fake.channel_id("general")
    answer = await _on(stack, "purge", count=2, channel="general")
    assert "the last 2 message(s) by" in answer
    [bulk] = await fake.wait_for("POST", rf"/channels/{general}/messages/bulk-delete")
    assert sorted(str(i) for i in bulk.body["messages"]) == sorted([said[2]["id"], said[1]["id"]])
    assert said[0]["id"] in fake.messages


async def test_purge_of_messages_containing_a_text(stack: DiscordStack) -> None:
    fake = stack.fake
    await fake.say("hello", user="alice")
    scam = await fake.say("free nitro at example.test", user="mallory")
    general = fake.channel_id("general")
    await _on(stack, "purge", member="", count=10, containing="NITRO", channel="general")
    # one match: a single delete, as Discord wants for fewer than two
    await fake.wait_for("DELETE", rf"/channels/{general}/messages/{scam['id']}")
    assert fake.calls("POST", rf"/channels/{general}/messages/bulk-delete") == []


async def test_slowmode_lock_and_unlock_the_channel(stack: DiscordStack) -> None:
    fake = stack.fake
    general = fake.channel_id("general")
    everyone = fake.guild_id  # the @everyone role has the guild's id
    bot = fake.bot_user["id"]
    assert "slowmode 30s" in await _on(stack, "slowmode", member="", seconds=30, channel="general")
    [edit] = await fake.wait_for("PATCH", rf"/channels/{general}")
    assert edit.body == {"rate_limit_per_user": 30}

    assert "locked" in await _on(stack, "lock", member="", channel="general")
    [denied] = await fake.wait_for("PUT", rf"/channels/{general}/permissions/{everyone}")
    assert int(denied.body["deny"]) & SEND_MESSAGES
    [own] = fake.calls("PUT", rf"/channels/{general}/permissions/{bot}")
    assert int(own.body["allow"]) & SEND_MESSAGES
    assert own.body["type"] == 1

    # the cache learns of the overwrite as Discord would tell it, then unlock clears it
    channel = next(c for c in fake.guild["channels"] if c["id"] == general)
    await fake.dispatch("CHANNEL_UPDATE", {**channel, "guild_id": fake.guild_id})
    assert "unlocked" in await _on(stack, "lock", member="", channel="general", off=True)
    await fake.wait_for("DELETE", rf"/channels/{general}/permissions/{everyone}")
    cases = await stack.moderation.channel_cases(_mod(stack), general)
    assert [c.decision for c in cases] == ["unlock", "lock", "slowmode"]


async def test_notes_are_staff_only_and_modlogs_pages(stack: DiscordStack) -> None:
    fake = stack.fake
    assert "Note added" in await _on(stack, "note", text="alt account of someone banned")
    await _on(stack, "warn", reason="first")
    logs = await _on(stack, "modlogs")
    assert "1 case(s), 1 note(s)" in logs
    assert "alt account of someone banned" in logs
    # members have no mod log, not even their own (it holds notes)
    refused = await stack.fake.slash("modlogs", user="mallory", members={"member": "mallory"})
    assert "may not see a member's mod log: moderators only" in await _said(stack, refused)
    for i in range(11):
        await _on(stack, "note", text=f"note {i}")
    assert "page 2/2" in await _on(stack, "modlogs", page=2)
    assert fake.calls("POST", r"/channels/19\d+/messages")[0].body["embeds"][0]["description"]


async def test_members_and_other_guilds_moderators_are_refused(stack: DiscordStack) -> None:
    fake = stack.fake
    mallory = fake.user_id("mallory")
    as_alice = await fake.slash("timeout", user="alice", members={"member": "mallory"})
    assert "may not time members out: moderators only" in await _said(stack, as_alice)
    await fake.join_other_guild()
    # morgan holds the other guild's "Moderator" role: same name, another id
    elsewhere = await fake.slash("ban", members={"member": "mallory"}, elsewhere=True)
    assert "may not ban members: moderators only" in await _said(stack, elsewhere)
    await asyncio.sleep(0.3)  # give a wrongly emitted action the time to arrive
    assert fake.calls("PATCH", rf"/guilds/\d+/members/{mallory}") == []
    assert fake.calls("PUT", rf"/guilds/\d+/bans/{mallory}") == []
    assert await stack.moderation.history(_mod(stack), mallory) == []


@pytest.mark.parametrize(
    ("command", "options", "permission"),
    [
        ("ban", {}, "Ban Members"),
        ("kick", {}, "Kick Members"),
        ("timeout", {}, "Moderate Members"),
        ("purge", {"count": 5, "channel": "general"}, "Manage Messages"),
        ("slowmode", {"seconds": 5, "channel": "general"}, "Manage Channels"),
        ("lock", {"channel": "general"}, "Manage Roles"),
    ],
)
async def test_a_missing_bot_permission_is_refused_up_front(
    stack: DiscordStack, command: str, options: dict[str, Any], permission: str
) -> None:
    fake = stack.fake
    assert stack.bot is not None
    guild = stack.bot.get_guild(int(fake.guild_id))
    assert guild is not None
    assert guild.me is not None
    lacking = discord.Permissions(guild.get_role(int(BOT_ROLE)).permissions.value)  # type: ignore[union-attr]
    setattr(lacking, permission.lower().replace(" ", "_"), False)
    await set_bot_permissions(fake, lacking.value)
    while getattr(guild.me.guild_permissions, permission.lower().replace(" ", "_")):
        await asyncio.sleep(0.01)
    member = "" if command in {"slowmode", "lock"} else "mallory"
    answer = await _on(stack, command, member=member, **options)
    assert f"modtriage lacks the **{permission}** permission" in answer
    assert "Nothing was done" in answer
    await asyncio.sleep(0.3)
    touched = [c for c in fake.requests if c.method in {"PUT", "PATCH", "DELETE"}]
    assert [c for c in touched if not c.path.startswith(("/interactions/", "/applications/"))] == []
    assert await stack.moderation.channel_cases(_mod(stack), fake.channel_id("general")) == []


async def test_a_command_delivered_twice_acts_once(stack: DiscordStack) -> None:
    fake = stack.fake
    mallory = fake.user_id("mallory")
    first = await fake.slash("timeout", members={"member": "mallory"}, duration="10m")
    assert "timed out for 10 minutes" in await _said(stack, first)
    await fake.dispatch("INTERACTION_CREATE", json.loads(json.dumps(first)))  # a gateway replay
    assert "Already done: case" in await _said(stack, first, count=2)
    await fake.wait_for("PATCH", rf"/guilds/{fake.guild_id}/members/{mallory}")
    await asyncio.sleep(0.3)
    assert len(fake.calls("PATCH", rf"/guilds/{fake.guild_id}/members/{mallory}")) == 1
    assert len(await stack.moderation.history(_mod(stack), mallory)) == 1


async def test_warn_and_timeout_from_a_members_context_menu(stack: DiscordStack) -> None:
    fake = stack.fake
    mallory = fake.user_id("mallory")
    [sync] = fake.calls("PUT", rf"/applications/\d+/guilds/{fake.guild_id}/commands")
    menus = {c["name"]: c for c in sync.body if c.get("type") == 2}
    assert set(menus) == {"Warn", "Timeout"}
    assert all(int(m["default_member_permissions"]) == 1 << 40 for m in menus.values())

    opened = await user_command(fake, "Warn", "mallory")
    [modal] = await fake.answered(opened)
    assert modal.body["type"] == 9
    assert modal.body["data"]["custom_id"] == f"mt:act:warn:{mallory}"
    submitted = await submit_modal(fake, f"mt:act:warn:{mallory}", {"reason": "keep it civil"})
    assert "warned" in await _said(stack, submitted)
    assert "keep it civil" in await _dm_text(stack, "mallory")

    opened = await user_command(fake, "Timeout", "mallory")
    await fake.answered(opened)
    submitted = await submit_modal(
        fake, f"mt:act:timeout:{mallory}", {"duration": "2h", "reason": "cool off"}
    )
    assert "timed out for 2 hours" in await _said(stack, submitted)
    [patch] = await fake.wait_for("PATCH", rf"/guilds/{fake.guild_id}/members/{mallory}")
    assert patch.body["communication_disabled_until"] is not None
    cases = await stack.moderation.history(_mod(stack), mallory)
    assert [c.decision for c in cases] == ["timeout", "warn"]

    # a member who is not a moderator gets the service's refusal, and nothing is done
    opened = await user_command(fake, "Warn", "mallory", user="alice")
    await fake.answered(opened)
    refused = await submit_modal(fake, f"mt:act:warn:{mallory}", {"reason": "x"}, user="alice")
    assert "moderators only" in await _said(stack, refused)
    assert len(await stack.moderation.history(_mod(stack), mallory)) == 2
