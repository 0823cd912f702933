"""Communities are separate, tried as an attacker would on Discord: the bot sits in two guilds;
an administrator of the other guild, and a member there with a role of the same name as our
Moderator role, forge what Discord would send about our case. Each gets a clear refusal and
nothing changes; our own moderator still gets through."""

from __future__ import annotations

from typing import Any

import pytest

from bot.case import CaseStatus
from bot.connection import Redis
from bot.metrics import Metrics
from bot.policy import Policy
from bot.review.actor import Actor
from bot.settings import Settings
from tests.discord.conftest import MODERATOR_ROLE, DiscordStack
from tests.discord.fake_discord import FakeDiscord

pytestmark = [pytest.mark.discord, pytest.mark.tenancy]

#: Every permission bit, Administrator included.
ADMINISTRATOR = "2251799813685247"


async def _slur_card(stack: DiscordStack) -> tuple[Any, str]:
    fake = stack.fake
    await fake.say("shut up you f4gg0t", user="mallory")
    [card] = await fake.wait_for(
        "POST", rf"/channels/{fake.channel_id('mod-queue')}/messages", count=1
    )
    return card.response, card.body["embeds"][0]["title"].split()[1]


def _home_mod(stack: DiscordStack) -> Actor:
    return Actor(
        platform="discord", workspace=stack.fake.guild_id, user_id="1", roles=(MODERATOR_ROLE,)
    )


async def _said(stack: DiscordStack, interaction: Any, count: int = 1) -> str:
    answers = await stack.fake.answered(interaction, count=count)
    data = answers[-1].body.get("data", answers[-1].body)
    embeds = data.get("embeds") or []
    return str(data.get("content") or "") + "".join(
        str(e.get("title", "")) + str(e.get("description", "")) for e in embeds
    )


async def test_an_administrator_of_another_guild_sees_and_touches_nothing(
    stack: DiscordStack,
) -> None:
    fake = stack.fake
    card, case_id = await _slur_card(stack)
    await fake.join_other_guild()

    as_admin = {"user": "alice", "elsewhere": True, "permissions": ADMINISTRATOR}
    assert await _said(stack, await fake.slash("queue", **as_admin)) == (
        "Review queue (0)Nothing here."
    )
    assert await _said(stack, await fake.slash("case", case_id=case_id, **as_admin)) == (
        f"no case '{case_id}'"
    )
    # Our card's ban button, copied into their guild: the form opens, the ban is refused.
    forged = fake.elsewhere(card)
    await fake.answered(await fake.click(forged, f"mt:case:ban:{case_id}", **as_admin))
    banned = await fake.submit(
        forged, f"mt:decide:ban:{case_id}", {"reason": "because I can"}, **as_admin
    )
    assert await _said(stack, banned, count=2) == f"no case '{case_id}'"
    shadow = await fake.slash("shadow", "on", **as_admin)
    assert "Shadow mode on" in await _said(stack, shadow)  # ... in their own guild only

    assert fake.calls("PUT", r"/guilds/\d+/bans/\d+") == []
    case = await stack.moderation.case(_home_mod(stack), case_id)
    assert case.status is CaseStatus.ACTIONED
    assert case.decided_by is None
    assert await stack.moderation.shadow_state(_home_mod(stack)) == {}

    # Our Moderator bans, and Discord receives it.
    await fake.answered(await fake.click(card, f"mt:case:ban:{case_id}"))
    ours = await fake.submit(card, f"mt:decide:ban:{case_id}", {"reason": "hate speech"})
    await fake.answered(ours, count=2)
    await fake.wait_for("PUT", rf"/guilds/{fake.guild_id}/bans/{fake.user_id('mallory')}")


async def test_a_role_named_moderator_in_another_guild_grants_nothing(
    stack: DiscordStack,
) -> None:
    fake = stack.fake
    _, case_id = await _slur_card(stack)
    await fake.join_other_guild()

    # morgan holds the other guild's "Moderator" role (same name, another id).
    there = await fake.slash("queue", user="morgan", elsewhere=True)
    assert "moderators only" in await _said(stack, there)
    looked = await fake.slash("case", case_id=case_id, user="morgan", elsewhere=True)
    assert await _said(stack, looked) == f"no case '{case_id}'"
    reload = await fake.slash("policy", "reload", user="morgan", elsewhere=True)
    assert "moderators only" in await _said(stack, reload)

    # At home, with our Moderator role (by id), the same person sees the case.
    home = await fake.slash("case", case_id=case_id, user="morgan")
    assert f"case {case_id}" in (await _said(stack, home)).lower()


@pytest.mark.parametrize("leave", [False, True])
async def test_a_guild_not_served_is_ignored_or_left(
    fake: FakeDiscord,
    discord_errors: object,
    redis: Redis,
    settings: Settings,
    default_policy: Policy,
    metrics: Metrics,
    leave: bool,
) -> None:
    stack = DiscordStack(
        fake=fake, redis=redis, settings=settings, policy=default_policy, metrics=metrics,
        workspaces=(f"discord:{fake.guild_id}",), discord_leave_unlisted=leave,
    )  # fmt: skip
    await stack.start()
    try:
        await fake.join_other_guild()
        await fake.say("shut up you f4gg0t", user="mallory", elsewhere=True)
        await fake.say("shut up you f4gg0t", user="mallory")  # at home: moderated
        await fake.wait_for("POST", rf"/channels/{fake.channel_id('mod-queue')}/messages")
        left = fake.calls("DELETE", rf"/users/@me/guilds/{fake.other_guild_id}")
        assert len(left) == (1 if leave else 0)
        assert [m["workspace"] for m in await stack.ingested()] == [fake.guild_id]
    finally:
        await stack.close()
