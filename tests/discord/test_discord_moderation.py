"""Moderation on Discord, read as a chat log: what members and moderators do, and what the
fake Discord received in return."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bot.action import Reply
from bot.faq.feedback import FeedbackCount
from tests.discord.conftest import DiscordStack

pytestmark = pytest.mark.discord


def _buttons(message: Any) -> dict[str, str]:
    """custom_id -> label of every button on a message payload the bot sent."""
    return {
        button["custom_id"]: button.get("label", "")
        for row in message.get("components") or []
        for button in row["components"]
    }


async def _card(stack: DiscordStack, count: int = 1) -> Any:
    fake = stack.fake
    calls = await fake.wait_for(
        "POST", rf"/channels/{fake.channel_id('mod-queue')}/messages", count=count
    )
    return calls[count - 1]


async def test_a_slur_is_deleted_the_member_warned_by_dm_and_a_card_posted(
    stack: DiscordStack,
) -> None:
    fake = stack.fake
    said = await fake.say("shut up you f4gg0t", user="mallory")

    await fake.wait_for("DELETE", rf"/channels/{said['channel_id']}/messages/{said['id']}")
    mallory = fake.user_id("mallory")
    [opened] = await fake.wait_for("POST", r"/users/@me/channels")
    assert opened.body == {"recipient_id": int(mallory)}
    [dm] = await fake.wait_for("POST", rf"/channels/{fake.dm_channel_id(mallory)}/messages")
    [warning] = dm.body["embeds"]
    assert "hate" in warning["description"]
    assert any("f4gg0t" in field["value"] for field in warning["fields"])

    card = await _card(stack)
    [embed] = card.body["embeds"]
    case_id = embed["title"].split()[1]
    assert "hate" in embed["title"]
    assert "actioned" in embed["title"]
    assert f"<@{mallory}>" in [f["value"] for f in embed["fields"]]
    assert "f4gg0t" in embed["description"]
    assert f"mt:appeal:{fake.guild_id}:{case_id}" in _buttons(dm.body)
    assert set(_buttons(card.body)) == {
        f"mt:case:{kind}:{case_id}" for kind in ("timeout", "kick", "ban", "overturn")
    } | {f"mt:summary:{case_id}"}


async def test_the_timeout_button_asks_for_a_duration_then_times_out_and_redraws_the_card(
    stack: DiscordStack,
) -> None:
    fake = stack.fake
    await fake.say("shut up you f4gg0t", user="mallory")
    card = (await _card(stack)).response
    case_id = card["embeds"][0]["title"].split()[1]

    click = await fake.click(card, f"mt:case:timeout:{case_id}")
    [modal] = await fake.answered(click)
    assert modal.body["type"] == 9
    assert modal.body["data"]["custom_id"] == f"mt:decide:timeout:{case_id}"

    before = datetime.now(UTC)
    submit = await fake.submit(
        card, f"mt:decide:timeout:{case_id}", {"duration": "2h", "reason": "repeat offender"}
    )
    responses = await fake.answered(submit, count=2)
    assert [r.method for r in responses] == ["POST", "PATCH"]
    assert responses[0].body["type"] == 6  # deferred update of the card
    [redrawn] = responses[1].body["embeds"]
    assert "actioned" in redrawn["title"]
    assert "timeout" in str(redrawn["fields"])

    # Two timeouts reach Discord: the strike ladder's (3 points for hate: 1 day) when the case
    # opened, and the moderator's 2 hours.
    mallory = fake.user_id("mallory")
    patches = await fake.wait_for("PATCH", rf"/guilds/{fake.guild_id}/members/{mallory}", count=2)
    ladder, patch = sorted(patches, key=lambda p: "repeat offender" in (p.reason or ""))
    assert "strike" in (ladder.reason or "")
    until = datetime.fromisoformat(patch.body["communication_disabled_until"])
    assert (
        timedelta(hours=2) - timedelta(seconds=5) < until - before < timedelta(hours=2, seconds=30)
    )
    assert "repeat offender" in (patch.reason or "")


async def test_a_missing_permission_becomes_a_notice_to_moderators(stack: DiscordStack) -> None:
    fake = stack.fake
    fake.fail("DELETE", r"/channels/\d+/messages/\d+")  # the bot's role lacks Manage Messages
    said = await fake.say("join my server discord.gg/abc123 for free stuff", user="mallory")

    await fake.wait_for("DELETE", rf"/channels/{said['channel_id']}/messages/{said['id']}")
    mod_queue = fake.channel_id("mod-queue")
    posts = await fake.wait_for("POST", rf"/channels/{mod_queue}/messages", count=2)
    [notice] = [p for p in posts if p.body.get("content")]
    assert "could not delete a message of" in notice.body["content"]
    assert "Manage Messages" in notice.body["content"]
    # The member was still warned and the case still reached moderators.
    await fake.wait_for(
        "POST", rf"/channels/{fake.dm_channel_id(fake.user_id('mallory'))}/messages"
    )
    assert any("spam" in (p.body.get("embeds") or [{}])[0].get("title", "") for p in posts)
    # The refused delete is kept, with Discord's answer, in the dead-letter stream.
    [(_, dead)] = await stack.redis.xrange(stack.streams.dead)
    assert b'"type":"delete"' in dead[b"action"]
    assert b"Missing Permissions" in dead[b"reason"]


async def test_closed_dms_fall_back_to_a_notice_in_the_channel(stack: DiscordStack) -> None:
    fake = stack.fake
    mallory = fake.user_id("mallory")
    fake.fail(
        "POST",
        rf"/channels/{fake.dm_channel_id(mallory)}/messages",
        body={"message": "Cannot send messages to this user", "code": 50007},
    )
    said = await fake.say("shut up you f4gg0t", user="mallory")

    general = said["channel_id"]
    [notice] = await fake.wait_for("POST", rf"/channels/{general}/messages")
    assert notice.body["content"] == f"<@{mallory}>"
    assert notice.body["allowed_mentions"]["users"] == [int(mallory)]
    [embed] = notice.body["embeds"]
    assert "hate" in embed["description"]
    assert "f4gg0t" not in str(embed)  # the slur is not repeated in public
    assert any(custom_id.startswith("mt:appeal:") for custom_id in _buttons(notice.body))


async def test_review_buttons_still_answer_after_a_restart(stack: DiscordStack) -> None:
    fake = stack.fake
    await fake.say("shut up you f4gg0t", user="mallory")
    card = (await _card(stack)).response
    case_id = card["embeds"][0]["title"].split()[1]

    await stack.restart()
    assert len(fake.identifies) == 2

    click = await fake.click(card, f"mt:case:overturn:{case_id}")
    responses = await fake.answered(click, count=2)
    assert responses[0].body["type"] == 6
    [redrawn] = responses[1].body["embeds"]
    assert "overturned" in redrawn["title"]
    assert responses[1].body["components"] == []  # a closed case has no buttons left
    # The member hears that the decision was overturned, and the ladder's timeout is lifted.
    # One notice per incident: the rule's warning covered the ladder's timeout too.
    mallory = fake.user_id("mallory")
    dms = await fake.wait_for("POST", rf"/channels/{fake.dm_channel_id(mallory)}/messages", count=2)
    assert "overturned" in dms[-1].body["embeds"][0]["description"]
    patches = await fake.wait_for("PATCH", rf"/guilds/{fake.guild_id}/members/{mallory}", count=2)
    assert patches[-1].body["communication_disabled_until"] is None


async def test_a_member_appeals_from_the_warning_and_moderators_get_the_card(
    stack: DiscordStack,
) -> None:
    fake = stack.fake
    await fake.say("shut up you f4gg0t", user="mallory")
    mallory = fake.user_id("mallory")
    [dm_call] = await fake.wait_for("POST", rf"/channels/{fake.dm_channel_id(mallory)}/messages")
    dm = dm_call.response
    [appeal_id] = [c for c in _buttons(dm) if c.startswith("mt:appeal:")]
    await _card(stack)  # the case is recorded (its card posted) by the time she reads the DM

    click = await fake.click(dm, appeal_id, user="mallory")
    [modal] = await fake.answered(click)
    assert modal.body["type"] == 9
    submit = await fake.submit(
        dm,
        modal.body["data"]["custom_id"],
        {"appeal": "I was quoting what someone said to me, to report it"},
        user="mallory",
    )
    [answer] = await fake.answered(submit)
    assert answer.body["type"] == 4
    assert "with the moderators" in answer.body["data"]["content"]

    appeal_card = await _card(stack, count=2)
    [embed] = appeal_card.body["embeds"]
    assert "appealed" in embed["title"]
    assert "I was quoting" in str(embed["fields"])
    case_id = embed["title"].split()[1]
    assert set(_buttons(appeal_card.body)) == {
        f"mt:case:overturn:{case_id}",
        f"mt:case:uphold:{case_id}",
        f"mt:summary:{case_id}",  # the thread's gist, for the moderator deciding the appeal
    }


async def test_members_report_a_message_and_moderators_find_it_in_the_queue(
    stack: DiscordStack,
) -> None:
    fake = stack.fake
    said = await fake.say("everyone who disagrees with me is a clown", user="mallory")
    report = await fake.report(said, user="alice")
    [thanks] = await fake.answered(report)
    assert thanks.body["type"] == 4
    assert thanks.body["data"]["flags"] == 64  # only the reporter sees it
    card = await _card(stack)
    assert "report" in card.body["embeds"][0]["title"]
    assert f"Reported by <@{fake.user_id('alice')}>" in str(card.body["embeds"][0]["fields"])

    queue = await fake.slash("queue", user="morgan")
    [listing] = await fake.answered(queue)
    [embed] = listing.body["data"]["embeds"]
    assert "Review queue (1)" in embed["title"]
    assert "clown" in embed["description"]
    assert listing.body["data"]["flags"] == 64


async def test_a_member_without_a_moderator_role_is_refused(stack: DiscordStack) -> None:
    fake = stack.fake
    queue = await fake.slash("queue", user="alice")
    [refusal] = await fake.answered(queue)
    assert "moderators only" in refusal.body["data"]["content"]
    assert refusal.body["data"]["flags"] == 64


async def test_moderators_test_a_text_against_the_policy(stack: DiscordStack) -> None:
    fake = stack.fake
    asked = await fake.slash("test", text="join discord.gg/abc123 now")
    [answer] = await fake.answered(asked)
    [embed] = answer.body["data"]["embeds"]
    assert embed["title"] == "act · spam"
    assert "link:invite" in str(embed["fields"])
    assert stack.fake.calls("DELETE", r".*") == []  # a test acts on nothing


async def test_in_shadow_mode_a_slur_is_only_recorded_and_history_shows_it(
    stack: DiscordStack,
) -> None:
    fake = stack.fake
    shadow = await fake.slash("shadow", "on")
    [answer] = await fake.answered(shadow)
    assert answer.body["data"]["content"] == (
        "Shadow mode on: nothing is enforced, everything is recorded."
    )

    await fake.say("shut up you f4gg0t", user="mallory")
    card = await _card(stack)
    assert "hate" in card.body["embeds"][0]["title"]
    assert fake.calls("DELETE", r".*") == []
    assert fake.calls("POST", r"/users/@me/channels") == []

    history = await fake.slash("history", members={"member": "mallory"})
    [listing] = await fake.answered(history)
    [embed] = listing.body["data"]["embeds"]
    assert embed["title"] == "History of Mallory (1)"
    assert "f4gg0t" in embed["description"]

    stats = await fake.slash("stats")
    [numbers] = await fake.answered(stats)
    fields = {f["name"]: f["value"] for f in numbers.body["data"]["embeds"][0]["fields"]}
    assert fields["cases opened"] == "1"
    assert fields["cases shadow"] == "1"
    assert numbers.body["data"]["embeds"][0]["description"].startswith("Over the last 7 days (")
    today = await fake.answered(await fake.slash("stats", days=1))
    [embed] = today[0].body["data"]["embeds"]
    assert embed["description"].startswith("Over the last day (")
    assert {f["name"]: f["value"] for f in embed["fields"]}["cases opened"] == "1"


async def test_a_ban_asks_for_a_reason_then_bans(stack: DiscordStack) -> None:
    fake = stack.fake
    await fake.say("shut up you f4gg0t", user="mallory")
    card = (await _card(stack)).response
    case_id = card["embeds"][0]["title"].split()[1]

    click = await fake.click(card, f"mt:case:ban:{case_id}")
    [modal] = await fake.answered(click)
    assert modal.body["type"] == 9
    inputs = [row["components"][0]["custom_id"] for row in modal.body["data"]["components"]]
    assert inputs == ["reason"]  # no duration for a ban
    submit = await fake.submit(card, modal.body["data"]["custom_id"], {"reason": "raid account"})
    await fake.answered(submit, count=2)

    mallory = fake.user_id("mallory")
    [ban] = await fake.wait_for("PUT", rf"/guilds/{fake.guild_id}/bans/{mallory}")
    assert "raid account" in (ban.reason or "")
    assert ban.query == {"delete_message_seconds": "0"}


async def test_a_bad_duration_is_refused_with_the_reason(stack: DiscordStack) -> None:
    fake = stack.fake
    await fake.say("shut up you f4gg0t", user="mallory")
    card = (await _card(stack)).response
    case_id = card["embeds"][0]["title"].split()[1]

    click = await fake.click(card, f"mt:case:timeout:{case_id}")
    await fake.answered(click)
    submit = await fake.submit(card, f"mt:decide:timeout:{case_id}", {"duration": "30d"})
    [refusal] = await fake.answered(submit)
    assert refusal.body["type"] == 4
    assert "28d" in refusal.body["data"]["content"]
    assert refusal.body["data"]["flags"] == 64


async def test_an_faq_answer_collects_one_vote_per_member(stack: DiscordStack) -> None:
    fake = stack.fake
    asked = await fake.say("how do I reset my password?", user="alice")
    assert stack.bot is not None
    await stack.bot.adapter.perform(
        Reply(
            id="faq-1", platform="discord", workspace=fake.guild_id,
            channel=asked["channel_id"], message_id=asked["id"], user_id=fake.user_id("alice"),
            message_key="k", text="Settings -> Account -> Reset password.",
            feedback_buttons=True, faq_id="reset-password",
        )
    )  # fmt: skip
    [reply] = fake.calls("POST", rf"/channels/{asked['channel_id']}/messages")
    assert reply.body["message_reference"]["message_id"] == int(asked["id"])
    assert set(_buttons(reply.body)) == {"mt:faq:up:reset-password", "mt:faq:down:reset-password"}

    answer = reply.response
    first = await fake.click(answer, "mt:faq:up:reset-password", user="alice")
    [thanks] = await fake.answered(first)
    changed = await fake.click(answer, "mt:faq:down:reset-password", user="alice")
    [noted] = await fake.answered(changed)
    again = await fake.click(answer, "mt:faq:down:reset-password", user="alice")
    [refused] = await fake.answered(again)
    assert thanks.body["data"]["content"] == "Thanks, noted."
    assert noted.body["data"]["content"] == "Thanks, noted."  # a member may change their mind
    assert refused.body["data"]["content"] == "You already rated this answer."
    assert await stack.bot.feedback.counts() == {
        "reset-password": FeedbackCount(helpful=0, not_helpful=1)
    }


async def test_moderators_open_a_case_by_id_and_reload_the_policy(stack: DiscordStack) -> None:
    fake = stack.fake
    await fake.say("shut up you f4gg0t", user="mallory")
    card = await _card(stack)
    case_id = card.body["embeds"][0]["title"].split()[1]

    shown = await fake.slash("case", case_id=case_id)
    [answer] = await fake.answered(shown)
    assert answer.body["data"]["embeds"][0]["title"] == card.body["embeds"][0]["title"]
    assert set(_buttons(answer.body["data"])) == set(_buttons(card.body))

    missing = await fake.slash("case", case_id="nope")
    [refusal] = await fake.answered(missing)
    assert refusal.body["data"]["content"] == "no case 'nope'"

    reload = await fake.slash("policy", "reload")
    [reloaded] = await fake.answered(reload)
    assert reloaded.body["data"]["content"] == (
        f"Policy reloaded: version `{stack.policy.version}`."
    )


async def test_a_reported_message_shows_on_the_card_as_typed_with_no_masked_link(
    stack: DiscordStack,
) -> None:
    fake = stack.fake
    typed = "**bold** [click](https://evil.example/x) @everyone `code`\n> quote"
    said = await fake.say(typed, user="mallory")
    await fake.report(said, user="alice")

    [embed] = (await _card(stack)).body["embeds"]
    assert embed["description"] == (
        "> \\*\\*bold\\*\\* \\[click](https://evil.example/x) @\u200beveryone \\`code\\`\n"
        "> \\> quote"
    )

    queue = await fake.slash("queue", user="morgan")
    [listing] = await fake.answered(queue)
    [shown] = listing.body["data"]["embeds"]
    assert "\\[click](https://evil.example/x) @\u200beveryone" in shown["description"]
    assert "**bold**" not in shown["description"]
