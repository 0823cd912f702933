"""Communities are separate, tried as an attacker would on Slack: an admin of another
workspace and a member of a user group called ``@admin`` forge what Slack would send, and get
a clear refusal; nothing changes, and the workspace's own moderator still gets through."""

from __future__ import annotations

import pytest

from bot.case import CaseStatus
from bot.review.service import ModerationService
from tests.slack.conftest import SlackStack, payload
from tests.slack.test_moderators import MOD, _mod, _report

pytestmark = [pytest.mark.slack, pytest.mark.tenancy]


def _press(
    slack: SlackStack, case_id: str, *, user: str, team: str = "T0TEAM"
) -> dict[str, object]:
    press = payload(
        "block_actions_card",
        CASE_ID=case_id,
        CARD_TS="1764300000.000001",
        RESPONSE_URL=slack.fake.response_url("card"),
    )
    press["user"]["id"] = user
    press["team"]["id"] = team
    press["actions"][0]["action_id"] = "mt_card_ban"
    return press


async def test_an_admin_of_another_workspace_sees_and_touches_nothing(
    slack: SlackStack, moderation: ModerationService
) -> None:
    slack.fake.users["U9BOSS"] = {"id": "U9BOSS", "name": "boss", "is_admin": True}
    case_id = await _report(slack, moderation)

    # Slack says: /mod from team T9OTHER, whose admin U9BOSS is.
    async def other(text: str, hook: str) -> str:
        fields = payload("slash_mod", RESPONSE_URL=slack.fake.response_url(hook))
        fields.update(text=text, user_id="U9BOSS", team_id="T9OTHER")
        before = len(slack.fake.responses)
        await slack.command(fields)
        return str((await slack.fake.wait_responses(before + 1))[before]["text"])

    assert await other("queue", "q") == "The review queue is empty."
    assert await other(f"case {case_id}", "c") == f"no case '{case_id}'"
    assert "Shadow mode *on*" in await other("shadow on", "s")

    # A forged press of the ban button on our card, from the other workspace.
    before = len(slack.fake.responses)
    await slack.interaction(_press(slack, case_id, user="U9BOSS", team="T9OTHER"))
    answers = await slack.fake.wait_responses(before + 1)
    assert answers[-1]["text"] == f"Not done: no case '{case_id}'"
    assert slack.fake.received("views.open") == []
    assert slack.fake.received("chat.update") == []

    # Nothing changed here: the case waits, shadow mode is off in this workspace.
    assert (await moderation.case(MOD, case_id)).status is CaseStatus.OPEN
    assert await moderation.shadow_state(MOD) == {}
    # ... and our own moderator still works the queue.
    assert f"`{case_id}`" in await _mod(slack, "queue")


async def test_a_user_group_called_admin_grants_nothing(
    slack: SlackStack, moderation: ModerationService
) -> None:
    slack.fake.usergroups.append({"id": "S0FAKE", "handle": "admin", "users": ["U0MALLORY"]})
    case_id = await _report(slack, moderation)

    assert (
        await _mod(slack, "queue", user="U0MALLORY", hook="m1")
        == "slack:U0MALLORY may not see the review queue: moderators only"
    )
    assert (
        await _mod(slack, "shadow on", user="U0MALLORY", hook="m2")
        == "slack:U0MALLORY may not switch shadow mode: moderators only"
    )
    before = len(slack.fake.responses)
    await slack.interaction(_press(slack, case_id, user="U0MALLORY"))
    answers = await slack.fake.wait_responses(before + 1)
    assert answers[-1]["text"] == f"Not done: no case '{case_id}'"
    assert slack.fake.received("views.open") == []
    assert (await moderation.case(MOD, case_id)).status is CaseStatus.OPEN
    assert await moderation.shadow_state(MOD) == {}

    # Maria, of the @moderator group the policy names, opens the ban form.
    await slack.interaction(_press(slack, case_id, user="U0MOD"))
    [opened] = await slack.fake.wait_for("views.open")
    assert "mt_decision" in str(opened.args["view"])
