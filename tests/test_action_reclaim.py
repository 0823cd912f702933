"""Actions read by an adapter process that died before acknowledging them are run by the next
one, under another consumer name, exactly once. Real Redis; the console adapter records what
it was asked to do (the far side)."""

from __future__ import annotations

from typing import Any

import pytest

from bot.action import Action
from bot.adapters.console import ConsoleAdapter
from bot.adapters.dispatch import ActionDispatcher
from bot.connection import Redis
from bot.metrics import Metrics
from bot.policy import Policy
from bot.settings import Settings
from bot.streams import Streams
from tests.harness import ChatHarness
from tests.review_harness import moderator
from tests.test_review_cases import _review


async def test_actions_a_dead_dispatcher_read_are_run_once_by_its_successor(
    chat: ChatHarness, redis: Redis, settings: Settings
) -> None:
    await chat.say("you f4gg0t", user="troll")
    await chat.say("free nitro here: discord.gg/xyz", user="spammer")
    emitted = await chat.actions()
    streams = Streams(namespace=settings.namespace)
    stream = streams.actions("console")

    dead = ActionDispatcher(
        redis=redis, streams=streams, adapter=ConsoleAdapter(), consumer="console-1"
    )
    await dead.ensure_group()
    # the process reads its batch and dies before performing or acknowledging any of it
    read: Any = await redis.xreadgroup("adapters", "console-1", {stream: ">"}, count=16)
    assert sum(len(got) for _, got in read) == len(emitted)

    far_side = ConsoleAdapter()
    successor = ActionDispatcher(
        redis=redis, streams=streams, adapter=far_side, consumer="console-2",
        block_ms=20, claim_idle_ms=1,
    )  # fmt: skip
    for _ in range(5):
        await successor.step()

    assert sorted(far_side.done_ids) == sorted(a.id for a in emitted)
    performed = [line for lines in far_side.performed.values() for line in lines]
    assert len(performed) == len(emitted), "each action run once"
    pending: Any = await redis.xpending(stream, "adapters")
    assert pending["pending"] == 0


class _Died(BaseException):
    """The process ends here (SIGKILL): nothing after this line runs."""


class _DiesAfterWarning:
    """Performs actions on the far side; the process dies right after the warning went out,
    before the dispatcher could mark it done."""

    platform = "console"
    handles = ConsoleAdapter.handles

    def __init__(self, far_side: ConsoleAdapter) -> None:
        self.far_side = far_side

    async def perform(self, action: Action) -> None:
        await self.far_side.perform(action)
        if action.type == "warn":
            raise _Died


async def test_a_warning_sent_as_its_dispatcher_died_is_not_sent_again(
    redis: Redis, settings: Settings, default_policy: Policy, metrics: Metrics
) -> None:
    review = _review(redis, settings, default_policy, metrics)
    await review.chat.say("you f4gg0t", user="troll")
    far_side = ConsoleAdapter()
    dying = ActionDispatcher(
        redis=redis, streams=review.chat.streams, adapter=_DiesAfterWarning(far_side),
        consumer="console-1", moderation=review.service,
    )  # fmt: skip
    await dying.ensure_group()
    with pytest.raises(_Died):
        await dying.step()
    successor = ActionDispatcher(
        redis=redis, streams=review.chat.streams, adapter=far_side, consumer="console-2",
        block_ms=20, claim_idle_ms=1, moderation=review.service,
    )  # fmt: skip
    for _ in range(5):
        await successor.step()

    lines = [line for said in far_side.performed.values() for line in said]
    # the warning once; the rest (the review card, the strike's timeout) by the successor
    assert [line.split()[0] for line in lines] == ["delete", "warn", "open", "time"]
    case = await review.service.case(moderator(), "1")
    warn = next(a for a in case.actions if a.type == "warn")
    assert warn.state == "unknown"
    assert "not sent again" in warn.detail
    pending: Any = await redis.xpending(review.chat.streams.actions("console"), "adapters")
    assert pending["pending"] == 0


class _BrokenOnWarnings:
    """An adapter with a defect: it performs everything but crashes on a warning."""

    platform = "console"
    handles = ConsoleAdapter.handles

    def __init__(self, far_side: ConsoleAdapter) -> None:
        self.far_side = far_side

    async def perform(self, action: Action) -> None:
        if action.type == "warn":
            raise KeyError("template")
        await self.far_side.perform(action)


async def test_an_adapter_defect_on_one_action_fails_that_action_and_the_rest_go_on(
    redis: Redis, settings: Settings, default_policy: Policy, metrics: Metrics
) -> None:
    review = _review(redis, settings, default_policy, metrics)
    await review.chat.say("you f4gg0t", user="troll")
    far_side = ConsoleAdapter()
    dispatcher = ActionDispatcher(
        redis=redis, streams=review.chat.streams, adapter=_BrokenOnWarnings(far_side),
        consumer="console-1", block_ms=20, moderation=review.service,
    )  # fmt: skip
    await dispatcher.ensure_group()
    for _ in range(3):
        await dispatcher.step()

    lines = [line for said in far_side.performed.values() for line in said]
    assert [line.split()[0] for line in lines] == ["delete", "open", "time"]
    case = await review.service.case(moderator(), "1")
    warn = next(a for a in case.actions if a.type == "warn")
    assert warn.state == "failed"
    assert warn.detail == "adapter error: KeyError: 'template'"
    dead: Any = await redis.xrange(review.chat.streams.dead)
    assert [fields[b"reason"] for _, fields in dead] == [b"adapter error: KeyError: 'template'"]
    pending: Any = await redis.xpending(review.chat.streams.actions("console"), "adapters")
    assert pending["pending"] == 0
