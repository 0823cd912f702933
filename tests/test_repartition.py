"""Changing the partition count of a namespace that has history: refused while work waits,
then every community's cases, history and held actions are where the new count looks."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.action import LiftSanction, about
from bot.connection import Redis
from bot.due import DueActions
from bot.errors import ConfigError
from bot.insights.backtest import read_history
from bot.keys import CaseKeys
from bot.metrics import Metrics
from bot.partitions import recorded_partitions
from bot.policy import Policy
from bot.repartition import repartition
from bot.review.actor import Actor
from bot.settings import Settings
from bot.tenant import Tenant
from tests.harness import rules_chat
from tests.review_harness import Clock, ReviewHarness, moderator

T1 = Tenant(platform="console", workspace="T1")
T9 = Tenant(platform="console", workspace="T9")
THEIR_MOD = Actor(platform="console", workspace="T9", user_id="mod-tom", roles=("moderator",))


def _review(redis: Redis, settings: Settings, policy: Policy, metrics: Metrics) -> ReviewHarness:
    chat = rules_chat(redis=redis, settings=settings, policy=policy, metrics=metrics)
    return ReviewHarness(chat=chat, clock=Clock(datetime(2026, 12, 1, 12, 0, tzinfo=UTC)))


async def _drain(review: ReviewHarness) -> None:
    await review.chat.worker.ensure_group()
    while await review.chat.worker.step():
        pass
    await review.settle()


async def test_a_namespace_with_history_moves_to_four_partitions_and_carries_on(
    redis: Redis, settings: Settings, default_policy: Policy, metrics: Metrics
) -> None:
    one = _review(redis, settings, default_policy, metrics)
    chat = one.chat
    carol = chat.message("free nitro: discord.gg/abc", user="carol")
    dave = chat.message("free nitro: discord.gg/xyz", user="dave").model_copy(
        update={"workspace": "T9"}
    )
    hello = chat.message("hello all", user="bob")
    for message in (carol, dave, hello):
        await chat.ingest.publish(message)
    await _drain(one)
    [carols] = await one.service.history(moderator(), "carol")
    [daves] = await one.service.history(THEIR_MOD, "dave")
    unban = LiftSanction(
        id="lift-carol", sanction="ban", **about(carol, reason="temporary ban ends")
    )
    until = datetime(2026, 12, 8, 12, 0, tzinfo=UTC)
    await DueActions(redis=redis, streams=settings.streams()).hold(unban, until=until)

    # a message still waiting: the switch is refused and nothing moves
    waiting = chat.message("one more", user="bob", after=timedelta(seconds=5))
    await chat.ingest.publish(waiting)
    with pytest.raises(ConfigError, match=r"not drained .*1 messages"):
        await repartition(redis, settings.streams(), 4)
    assert await redis.exists(CaseKeys(settings.streams()).case(carols.id, T1)) == 1
    await _drain(one)

    done = await repartition(redis, settings.streams(), 4)

    assert (done.before, done.after) == (1, 4)
    assert done.history == 4  # four verdicts merged into the new partitions' streams
    four = settings.model_copy(update={"partitions": 4})
    assert await recorded_partitions(redis, four.streams()) == 4
    after = _review(redis, four, default_policy, metrics)
    assert [c.id for c in await after.service.history(moderator(), "carol")] == [carols.id]
    assert [c.id for c in await after.service.history(THEIR_MOD, "dave")] == [daves.id]
    assert await after.service.history(moderator(), "dave") == []
    assert await redis.exists(CaseKeys(four.streams()).case(carols.id, T1)) == 1
    recorded = await read_history(redis, four.streams(), T1)
    assert [r.message.key for r in recorded] == [carol.key, hello.key, waiting.key]
    held = await DueActions(redis=redis, streams=four.streams()).when(T1, "lift-carol")
    assert held == until.timestamp()

    # the bot carries on with four partitions: new cases after the old ids, apart per tenant
    erin = after.chat.message("free nitro: discord.gg/new", user="erin").model_copy(
        update={"id": "m-after"}  # the new harness counts its message ids from 1 again
    )
    await after.chat.ingest.publish(erin)
    await _drain(after)
    [erins] = await after.service.history(moderator(), "erin")
    assert int(erins.id) > max(int(carols.id), int(daves.id))

    # and a process still set to one partition refuses to start
    with pytest.raises(ConfigError, match="written with 4 partitions"):
        await one.chat.worker.ensure_group()
