"""``/mod backtest`` on Discord: a moderator attaches a candidate policy (or names a stored
version) and reads what it would have done to the server's recorded messages."""

from __future__ import annotations

import asyncio

import pytest
import yaml

from tests.conftest import DEFAULT_POLICY
from tests.discord.conftest import DiscordStack

pytestmark = [pytest.mark.discord, pytest.mark.insights]


def _without_hate_terms() -> bytes:
    raw = yaml.safe_load(DEFAULT_POLICY.read_text())
    raw["name"] = "candidate"
    raw["categories"]["hate"]["deny"] = []
    raw["faq"]["enabled"] = False
    raw["faq"].pop("file", None)
    return yaml.safe_dump(raw, sort_keys=False).encode()


async def _recorded(stack: DiscordStack, n: int) -> None:
    """Until the worker decided ``n`` messages."""
    async with asyncio.timeout(10):
        while await stack.redis.xlen(stack.streams.verdicts) < n:
            await asyncio.sleep(0.02)


async def test_a_candidate_file_answers_with_what_would_change(stack: DiscordStack) -> None:
    fake = stack.fake
    await fake.say("hello everyone", user="morgan")
    await fake.say("shut up you f4gg0t", user="mallory")
    await fake.say("nobody wants you here f4gg0t", user="alice")
    await _recorded(stack, 3)
    candidate = _without_hate_terms()

    asked = await fake.slash("backtest", files={"policy_file": ("lenient.yaml", candidate)})
    deferred, answer = await fake.answered(asked, count=2)

    assert deferred.body["type"] == 5
    assert len(fake.cdn.downloads) == 1  # the bot fetched the attachment from its URL
    version = stack.policy.version
    lines = answer.body["content"].splitlines()
    assert lines[0].startswith("Backtest of policy ")
    assert lines[0].endswith(
        f"on 3 recorded messages (decided under {version}): 2 would change route."
    )
    assert lines[1:] == [
        "routes that change: act->allow 2",
        "actions: delete 2 → 0, open_case 2 → 0, warn 2 → 0",
        "cases: 2 opened → 0 would open (-2)",
        "members crossing a strike step: 3:timeout 2 → 0",
        "frontier calls: 0, about 0.0000 USD",
    ]


async def test_a_stored_version_mistakes_and_members(stack: DiscordStack) -> None:
    fake = stack.fake
    await fake.say("shut up you f4gg0t", user="mallory")
    await _recorded(stack, 1)

    # the current version, by its content hash: nothing changes
    _, same = await fake.answered(await fake.slash("backtest", version=stack.policy.version),
                                  count=2)  # fmt: skip
    assert "1 recorded messages" in same.body["content"]
    assert "0 would change route" in same.body["content"]

    _, unknown = await fake.answered(await fake.slash("backtest", version="0123abcd4567"),
                                     count=2)  # fmt: skip
    assert unknown.body["content"] == "no policy version '0123abcd4567' in this workspace"

    broken = b"categories:\n  hate:\n    thresholds: {review: 2}\n"
    asked = await fake.slash("backtest", files={"policy_file": ("broken.yaml", broken)})
    _, mistake = await fake.answered(asked, count=2)
    [line] = mistake.body["content"].splitlines()
    assert line.startswith("broken.yaml: categories.hate")
    assert "Fix: " in line

    asked = await fake.slash("backtest", user="alice", version=stack.policy.version)
    _, refused = await fake.answered(asked, count=2)
    assert refused.body["content"] == (
        f"discord:{fake.user_id('alice')} may not backtest a policy: moderators only"
    )
