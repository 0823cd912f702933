"""Numbers for the trust & safety lead, asked for in Slack: ``/mod shadow report`` after a
week in shadow mode, and ``/mod stats`` when the model's scores drift."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.review.service import ModerationService
from tests.slack.conftest import SlackStack, payload
from tests.slack.test_moderators import MOD, _mod, _report

pytestmark = [pytest.mark.slack, pytest.mark.insights]

LINK = "https://test.slack.com/archives/C0GENERAL/p"


async def _press(slack: SlackStack, case_id: str, button: str) -> None:
    """The moderator presses a button on a case's review card."""
    press = payload(
        "block_actions_card",
        CASE_ID=case_id,
        CARD_TS="1764300000.000001",
        RESPONSE_URL=slack.fake.response_url("card"),
    )
    press["actions"][0]["action_id"] = f"mt_card_{button}"
    before = len(slack.fake.received("chat.update"))
    status, _ = await slack.interaction(press)
    assert status == 200
    await slack.fake.wait_for("chat.update", before + 1)


async def test_shadow_report_counts_what_shadow_mode_held_back_and_how_moderators_decided(
    slack: SlackStack, moderation: ModerationService
) -> None:
    reported = await _report(slack, moderation)  # a member's report: not shadow mode's doing
    assert "Shadow mode *on*" in await _mod(slack, "shadow on")
    said = [
        ("U0MALLORY", "shut up you f4gg0t", "1764320000.000100"),
        ("U0TROLL", "nobody wants you here f4gg0t", "1764320000.000200"),
        ("U0RAID", "f4gg0t f4gg0t f4gg0t", "1764320000.000300"),
    ]
    for n, (user, text, ts) in enumerate(said, start=1):
        await slack.say(text, user=user, ts=ts)
        await slack.fake.wait_for("chat.postMessage", n + 1)  # its review card
    upheld, overturned, waiting = sorted(
        (c.id for c in await moderation.queue(MOD) if c.id != reported), key=int
    )

    await _press(slack, upheld, "remove")  # the moderator holds it against the rules too
    await _press(slack, overturned, "dismiss")  # ... and finds no violation in this one
    await slack.fake.wait_for("chat.postEphemeral")  # the removal's notice reached the member

    today = datetime.now(UTC).date()
    answer = await _mod(slack, "shadow report 7")
    assert answer.splitlines() == [
        f"*Shadow mode, last 7 days ({today - timedelta(days=6)} to {today}, UTC)*",
        "• 3 case(s) opened in shadow mode",
        "• by category: hate 3",
        "• by route: act 3",
        "• held back: delete 3, warn 3",
        "• moderators decided 2: agreed 1, disagreed 1 (50% agreement)",
        "*Examples*",
        f"• `{overturned}` · hate · would delete, warn · dismiss (disagrees) · "
        f"<{LINK}1764320000000200|message>: nobody wants you here f4gg0t",
        f"• `{waiting}` · hate · would delete, warn · waiting for a moderator · "
        f"<{LINK}1764320000000300|message>: f4gg0t f4gg0t f4gg0t",
        f"• `{upheld}` · hate · would delete, warn · remove (agrees) · "
        f"<{LINK}1764320000000100|message>: shut up you f4gg0t",
    ]
    report = await moderation.shadow_report(MOD, days=7)
    assert (report.cases, report.handled, report.agreed, report.disagreed) == (3, 2, 1, 1)
    assert report.decisions == {"dismiss": 1, "remove": 1}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("shadow report 0", "shadow report takes a number of days, 1 to 400"),
        ("shadow report soon", "shadow report takes a number of days"),
        ("shadow report", "• 0 case(s) opened in shadow mode"),
        ("shadow report 1", "*Shadow mode, last day ("),
    ],
)
async def test_shadow_report_answers(slack: SlackStack, text: str, expected: str) -> None:
    assert expected in await _mod(slack, text)


async def test_members_get_no_shadow_report(slack: SlackStack) -> None:
    answer = await _mod(slack, "shadow report", user="U0ALICE")
    assert answer == "slack:U0ALICE may not see the shadow report: moderators only"
