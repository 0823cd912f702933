"""``/mod faq suggest`` and its "Add to FAQ" button on Slack, against the fake Slack: five
members ask a question the FAQ does not cover, a moderator answers one of them in its thread,
the suggestion carries that answer, one press adds it, and the next member gets it."""

from __future__ import annotations

import asyncio
import shutil
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bot.classifiers.rules_only import RulesOnlyClassifier
from bot.connection import Redis
from bot.faq.entries import load_faqs
from bot.metrics import Metrics
from bot.pipeline.judge import build_judge
from bot.policy import Policy, load_policy
from bot.review.service import ModerationService
from bot.settings import Settings
from bot.streams import Streams
from bot.tenant import Tenant
from tests.conftest import DEFAULT_POLICY
from tests.slack.conftest import SlackStack, eventually, payload
from tests.slack.fake_slack import FakeSlack

pytestmark = pytest.mark.slack

PORT_QUESTIONS = [
    "how do I change the default port of the dev server?",
    "can the development server listen on another port?",
    "dev server port 8000 is taken, where do I set a different one?",
    "is there a setting for which port the local server uses?",
    "how to run the dev server on port 9000 instead?",
]
ANSWER = "Pass --port to the dev server: ourproject serve --port 9000 (or set OURPROJECT_PORT)."
MEMBERS = [f"U0MEMBER{n}" for n in range(1, 6)]


@pytest.fixture
def faq_file(tmp_path: Path) -> Path:
    return tmp_path / "faq.yaml"


@pytest.fixture
async def slack(
    fake_slack: FakeSlack, redis: Redis, settings: Settings, metrics: Metrics, tmp_path: Path,
    default_policy: Policy,
) -> AsyncIterator[SlackStack]:  # fmt: skip
    """The shipped policy and FAQ (copied: accepting writes the FAQ file), the ``@moderator``
    group moderating, five more members in the workspace."""
    for user in MEMBERS:
        fake_slack.users[user] = {"id": user, "name": user.lower(), "profile": {}}
    shutil.copy(DEFAULT_POLICY, tmp_path / "default.yaml")
    shutil.copy(DEFAULT_POLICY.parent / "faq.yaml", tmp_path / "faq.yaml")
    policy = load_policy(tmp_path / "default.yaml").model_copy(
        update={"moderators": default_policy.moderators}
    )
    moderation = ModerationService(
        redis=redis, streams=Streams(namespace=settings.namespace), policy=policy,
        policy_path=tmp_path / "default.yaml",
        judges=lambda judged: build_judge(
            policy=judged, classifier=RulesOnlyClassifier(), settings=settings
        ),
    )  # fmt: skip
    stack = SlackStack(
        fake=fake_slack, redis=redis, settings=settings, policy=policy, metrics=metrics,
        moderation=moderation,
    )  # fmt: skip
    await stack.start()
    yield stack
    await stack.stop()


async def _say(slack: SlackStack, text: str, *, user: str, ts: str, thread: str = "") -> None:
    body = payload("event_message")
    body["event"].update(text=text, user=user, ts=ts, event_ts=ts, blocks=[])
    body["event_id"] = f"Ev{ts.replace('.', '')}"
    if thread:
        body["event"]["thread_ts"] = thread
    status, _ = await slack.event(body)
    assert status == 200


async def _kept(slack: SlackStack, count: int) -> None:
    """Wait until the worker kept ``count`` questions and replies of the workspace."""
    key = slack.streams.tenant(Tenant(platform="slack", workspace="T0TEAM")).faq_asked
    async with asyncio.timeout(20):
        while await slack.redis.xlen(key) < count:
            await asyncio.sleep(0.05)


async def _mod(slack: SlackStack, text: str, *, user: str = "U0MOD") -> dict[str, Any]:
    fields = payload("slash_mod", RESPONSE_URL=slack.fake.response_url("mod"))
    fields.update(text=text, user_id=user)
    before = len(slack.fake.responses)
    status, _ = await slack.command(fields)
    assert status == 200
    answer = (await slack.fake.wait_responses(before + 1))[before]
    assert answer["response_type"] == "ephemeral"
    return answer


async def test_a_moderator_adds_a_suggested_entry_with_one_press(
    slack: SlackStack, faq_file: Path
) -> None:
    now = int(time.time())  # messages of the last hour: `faq suggest` reads the last 7 days
    first = f"{now - 3600}.000101"
    for n, (user, question) in enumerate(zip(MEMBERS, PORT_QUESTIONS, strict=True), start=1):
        await _say(slack, question, user=user, ts=f"{now - 3600}.00010{n}")
    await _say(slack, "same here", user="U0MEMBER3", ts=f"{now - 1800}.000001", thread=first)
    await _say(slack, ANSWER, user="U0MOD", ts=f"{now - 1800}.000002", thread=first)
    await _kept(slack, 7)

    shown = await _mod(slack, "faq suggest")
    assert shown["text"] == "*1 suggested FAQ entries*"
    section = shown["blocks"][2]["text"]["text"]
    assert "asked 5 times by 5 members · as entry `change_default_port_dev`" in section
    assert "Draft answer (a moderator's reply):\n> Pass --port to the dev server" in section
    [button] = shown["blocks"][3]["elements"]
    assert (button["action_id"], button["text"]["text"]) == ("mt_faq_accept", "Add to FAQ")

    press = payload("block_actions_faq", RESPONSE_URL=slack.fake.response_url("accept"))
    press["user"] = {"id": "U0MOD", "username": "maria", "name": "maria", "team_id": "T0TEAM"}
    press["actions"][0].update(action_id="mt_faq_accept", value=button["value"])
    before = len(slack.fake.responses)
    status, _ = await slack.interaction(press)
    assert status == 200
    added = (await slack.fake.wait_responses(before + 1))[before]
    assert added["hook"] == "accept"
    assert added["replace_original"] is False
    assert added["text"].startswith("Added `change_default_port_dev` to the FAQ with 5 questions")
    assert load_faqs(faq_file).entry("change_default_port_dev").answer == ANSWER

    asked = f"{now}.000001"
    await _say(slack, "how can I change the dev server's port?", user="U0ALICE", ts=asked)

    async def answered() -> list[Any]:
        return [c for c in slack.fake.received("chat.postMessage") if c.args.get("thread_ts")]

    [reply] = await eventually(answered)
    assert reply.args["thread_ts"] == asked
    assert reply.args["text"] == ANSWER


async def test_members_may_not_see_suggestions_and_a_bad_command_says_how(
    slack: SlackStack,
) -> None:
    refused = await _mod(slack, "faq suggest", user="U0MALLORY")
    assert "moderators only" in refused["text"]
    typo = await _mod(slack, "faq sugest")
    assert typo["text"] == (
        "use `/mod faq suggest [days]` or `/mod faq accept <suggestion id> [answer text]`"
    )
    unknown = await _mod(slack, "faq accept s00000000 the answer")
    assert unknown["text"] == (
        "no FAQ suggestion 's00000000' in this workspace; `faq suggest` lists them"
    )
