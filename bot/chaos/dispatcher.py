"""The console adapter's action dispatcher as a process of its own: what the chaos suite kills.

``python -m bot.chaos.dispatcher RECORD`` runs :class:`~bot.adapters.dispatch.ActionDispatcher`
with the moderation service (cases opened, outcomes noted, as ``modtriage run`` does) over a
:class:`~bot.adapters.console.ConsoleAdapter` that appends every action it performs to the
file ``RECORD``, until SIGTERM. Its settings come from the environment like every process's;
it reclaims actions a dead dispatcher left after ``MODTRIAGE_CLAIM_IDLE_MS``.
"""

from __future__ import annotations

import asyncio
import signal
import sys
from pathlib import Path

from bot.adapters.console import ConsoleAdapter
from bot.adapters.dispatch import ActionDispatcher
from bot.connection import connect
from bot.logs import configure_logging
from bot.policy import load_policy
from bot.review.service import ModerationService
from bot.runtime import consumer_name
from bot.settings import Settings

__all__ = ["dispatch", "main"]


async def dispatch(settings: Settings, record: Path, stop: asyncio.Event) -> None:
    """Perform the console platform's actions until ``stop`` is set.

    Raises:
        StoreUnavailable: Redis cannot be reached at start.
        PolicyError: the policy file has a mistake.
    """
    policy = load_policy(settings.policy)
    streams = settings.streams()
    async with connect(settings) as redis:
        moderation = ModerationService(
            redis=redis, streams=streams, policy=policy, policy_path=settings.policy,
            stream_maxlen=settings.stream_maxlen,
        )  # fmt: skip
        consumer = consumer_name("console")
        dispatcher = ActionDispatcher(
            redis=redis, streams=streams, adapter=ConsoleAdapter(record=record),
            consumer=consumer, block_ms=settings.block_ms,
            claim_idle_ms=settings.claim_idle_ms, moderation=moderation,
        )  # fmt: skip
        print(f"dispatcher {consumer} ready", file=sys.stderr, flush=True)
        await dispatcher.run(stop)


def main(argv: list[str]) -> None:
    if len(argv) != 1:
        raise SystemExit("usage: python -m bot.chaos.dispatcher RECORD")
    settings = Settings()
    configure_logging(level=settings.log_level, json=settings.log_format == "json")

    async def run() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await dispatch(settings, Path(argv[0]), stop)

    asyncio.run(run())


if __name__ == "__main__":
    main(sys.argv[1:])
