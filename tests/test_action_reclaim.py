"""Actions read by an adapter process that died before acknowledging them are run by the next
one, under another consumer name, exactly once. Real Redis; the console adapter records what
it was asked to do (the far side)."""

from __future__ import annotations

from typing import Any

from bot.adapters.console import ConsoleAdapter
from bot.adapters.dispatch import ActionDispatcher
from bot.connection import Redis
from bot.settings import Settings
from bot.streams import Streams
from tests.harness import ChatHarness


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
