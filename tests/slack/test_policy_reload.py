"""``/mod policy reload`` on Slack reaches the running worker: the next message is decided
under the new version, and the moderators' card names it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.connection import Redis
from bot.policy import load_policy
from bot.settings import Settings
from bot.streams import read_decision
from bot.verdict import Route, Verdict
from tests.policy_variants import write_policy
from tests.slack.conftest import MODS, SlackStack, eventually
from tests.slack.test_moderators import _mod

pytestmark = [pytest.mark.slack, pytest.mark.tenancy]

ROLES = ("usergroup:moderator",)


@pytest.fixture
def settings(settings: Settings, tmp_path: Path) -> Settings:
    """The workspace's policy file, which a moderator edits while modtriage runs."""
    policy = write_policy(tmp_path / "team.yaml", name="team", moderator_roles=ROLES)
    return settings.model_copy(update={"policy": policy})


async def _verdict(slack: SlackStack, text: str) -> Verdict:
    async def decided() -> Verdict | None:
        for message in await slack.ingested():
            if message.text == text:
                found = await read_decision(slack.redis, slack.streams, message.key)
                return None if found is None else found[1]
        return None

    verdict: Verdict = await eventually(decided)
    return verdict


async def test_a_reload_reaches_the_running_worker(
    slack: SlackStack, settings: Settings, redis: Redis
) -> None:
    before = await _verdict_of_first(slack)
    assert before.route is Route.ALLOW

    write_policy(settings.policy, name="team", toxic=("turnip",), moderator_roles=ROLES)
    new = load_policy(settings.policy).version
    assert await _mod(slack, "policy reload") == f"Policy reloaded: version `{new}`."

    await slack.say("you turnip", user="U0MALLORY", ts="1764320100.000100")
    after = await _verdict(slack, "you turnip")
    assert (after.route, after.category, after.policy_version) == (Route.ACT, "toxicity", new)
    [card] = await slack.fake.wait_for("chat.postMessage")
    assert card.args["channel"] == MODS
    assert f"policy {new}" in json.dumps(card.args["blocks"])
    [warning] = await slack.fake.wait_for("chat.postEphemeral")
    assert warning.args["user"] == "U0MALLORY"


async def _verdict_of_first(slack: SlackStack) -> Verdict:
    await slack.say("turnip soup again", user="U0MALLORY")
    verdict = await _verdict(slack, "turnip soup again")
    assert verdict.policy_version != ""
    return verdict
