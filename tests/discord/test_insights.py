"""Numbers for the trust & safety lead, asked for on Discord: ``/mod shadow report`` after
shadow mode ran on live messages and a moderator decided two of its cases."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.discord.conftest import DiscordStack

pytestmark = [pytest.mark.discord, pytest.mark.insights]


async def _card(stack: DiscordStack, count: int) -> Any:
    fake = stack.fake
    calls = await fake.wait_for(
        "POST", rf"/channels/{fake.channel_id('mod-queue')}/messages", count=count
    )
    return calls[count - 1].response


def _link(stack: DiscordStack, said: Any) -> str:
    return f"https://discord.com/channels/{stack.fake.guild_id}/{said['channel_id']}/{said['id']}"


async def test_shadow_report_counts_what_shadow_mode_held_back_and_how_moderators_decided(
    stack: DiscordStack,
) -> None:
    fake = stack.fake
    [answer] = await fake.answered(await fake.slash("shadow", "on"))
    assert answer.body["data"]["content"] == (
        "Shadow mode on: nothing is enforced, everything is recorded."
    )
    first = await fake.say("shut up you f4gg0t", user="mallory")
    upheld = (await _card(stack, 1))["embeds"][0]["title"].split()[1]
    second = await fake.say("nobody wants you here f4gg0t", user="alice")
    card = await _card(stack, 2)
    overturned = card["embeds"][0]["title"].split()[1]
    assert fake.calls("DELETE", r".*") == []  # shadow mode: nothing enforced

    removed = await fake.click(await _card(stack, 1), f"mt:case:remove:{upheld}")
    await fake.answered(removed, count=2)  # deferred, then the card redrawn
    dismissed = await fake.click(card, f"mt:case:dismiss:{overturned}")
    await fake.answered(dismissed, count=2)
    # the moderator's removal acts even in shadow mode
    await fake.wait_for("DELETE", rf"/channels/{first['channel_id']}/messages/{first['id']}")

    [reply] = await fake.answered(await fake.slash("shadow", "report", days=7))
    [embed] = reply.body["data"]["embeds"]
    today = datetime.now(UTC).date()
    assert embed["title"] == "Shadow mode report"
    assert embed["description"].splitlines() == [
        f"Over the last 7 days ({today - timedelta(days=6)} to {today}, UTC).",
        "2 case(s) opened in shadow mode",
        "by category: hate 2",
        "by route: act 2",
        "held back: delete 2, warn 2",
        "moderators decided 2: agreed 1, disagreed 1 (50% agreement)",
    ]
    assert [(f["name"], f["value"]) for f in embed["fields"]] == [
        (
            f"Case {overturned} · hate · dismiss (disagrees)",
            f"would delete, warn · [message]({_link(stack, second)}): nobody wants you here f4gg0t",
        ),
        (
            f"Case {upheld} · hate · remove (agrees)",
            f"would delete, warn · [message]({_link(stack, first)}): shut up you f4gg0t",
        ),
    ]


async def test_members_get_no_shadow_report(stack: DiscordStack) -> None:
    [reply] = await stack.fake.answered(await stack.fake.slash("shadow", "report", user="alice"))
    assert "may not see the shadow report: moderators only" in reply.body["data"]["content"]
