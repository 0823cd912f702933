"""One incident, one case: repeats by one author in one channel within the rule's window join
the case the first one opened, and the member hears about it once."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from bot.case import Case
from bot.connection import Redis
from bot.keys import CaseKeys
from bot.metrics import Metrics
from bot.policy import Policy
from bot.settings import Settings
from bot.tenant import Tenant
from tests.review_harness import ReviewHarness, moderator
from tests.test_review_cases import _review

pytestmark = [pytest.mark.review, pytest.mark.tenancy]


@pytest.fixture
def review(
    redis: Redis, settings: Settings, default_policy: Policy, metrics: Metrics
) -> ReviewHarness:
    return _review(redis, settings, default_policy, metrics)


async def _cases(review: ReviewHarness, user: str) -> list[Case]:
    return await review.service.history(moderator(), user)


async def test_four_duplicates_then_a_flood_are_one_case_with_one_notice(
    review: ReviewHarness,
) -> None:
    chat = review.chat
    for _ in range(4):  # the fourth in a minute trips the duplicate rule
        await chat.say("check out my channel", user="spammer", after=timedelta(seconds=2))
    for n in range(3):  # then seven messages in ten seconds: a flood
        await chat.say(f"hello {n}", user="spammer", after=timedelta(seconds=1))
    await review.settle()

    [case] = await _cases(review, "spammer")
    assert case.category == "spam"
    assert [e.kind for e in case.events].count("repeat") >= 1
    assert review.platform.types("spammer").count("warn") == 1
    deleted = [a for a in review.platform.performed if a.type == "delete"]
    assert len(deleted) >= 2  # every offending message still goes
    assert {a.case_id for a in review.platform.performed} == {case.id}


async def test_the_same_author_later_or_elsewhere_is_another_incident(
    review: ReviewHarness,
) -> None:
    chat = review.chat
    await chat.say("discord.gg/ad1", user="carol", channel="C1")
    await chat.say("discord.gg/ad2", user="carol", channel="C2")
    await chat.say("discord.gg/ad3", user="carol", channel="C1", after=timedelta(hours=1))
    await review.settle()

    assert len(await _cases(review, "carol")) == 3
    assert review.platform.types("carol").count("warn") == 3


async def test_an_incident_in_one_batch_is_one_case_numbered_once(review: ReviewHarness) -> None:
    """Invites posted in a burst land in one worker batch: the first opens the case in the
    commit, the others join it there, and no case number is spent on them."""
    chat = review.chat
    for n in range(5):
        said = chat.message(f"discord.gg/raid{n}", user="carol", after=timedelta(seconds=2))
        await chat.ingest.publish(said)
    await chat.worker.ensure_group()
    assert await chat.worker.step() == 5  # one batch
    await review.settle()

    [case] = await _cases(review, "carol")
    assert case.id == "1"
    assert [e.kind for e in case.events].count("repeat") == 4
    assert review.platform.types("carol").count("warn") == 1
    assert int(await chat.redis.get(CaseKeys(chat.streams).seq(Tenant.of(said)))) == 1


async def test_a_message_delivered_twice_while_another_worker_opens_the_incident(
    review: ReviewHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Between the plan and the commit another worker opens the author's incident: the
    message is planned again and joins that case; its second delivery in the same batch
    commits nothing, and no case-less review card is emitted."""
    chat = review.chat
    other = chat.message("discord.gg/first", user="carol")
    await chat.ingest.publish(other)
    await chat.worker.ensure_group()
    await chat.worker.step()  # the incident's case, 1
    message = chat.message("discord.gg/again", user="carol", after=timedelta(seconds=5))
    committer = chat.worker._parts[0].committer  # the one partition's
    read = committer._read
    incident = chat.streams.tenant(Tenant.of(message)).incident(message.channel, "carol")
    saved = await chat.redis.hgetall(incident)
    await chat.redis.delete(incident)  # as if case 1's commit had not landed yet

    async def racing(items: Any) -> Any:
        seen = await read(items)
        await chat.redis.hset(incident, mapping=saved)  # ...and now it has
        monkeypatch.setattr(committer, "_read", read)
        return seen

    monkeypatch.setattr(committer, "_read", racing)
    await chat.ingest.publish(message)
    await chat.ingest.publish(message)
    await chat.worker.step()
    await review.settle()

    [case] = await _cases(review, "carol")
    assert [e.kind for e in case.events].count("repeat") == 1
    opened = [a for a in await chat.actions() if a.type == "open_case"]
    assert all(a.case_id == case.id for a in opened)
    assert await chat.redis.xlen(chat.streams.dead) == 0
