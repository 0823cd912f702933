"""Time to action on Discord, measured end to end on loopback: from the gateway's
MESSAGE_CREATE to the DELETE the fake Discord receives, through the real bot, Redis, worker
(rules-only) and dispatcher. Prints JSON with the median and p95 over N messages.

    .venv/bin/python -m tests.discord.bench_roundtrip --messages 50
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
from pathlib import Path
from unittest import mock

import discord
import yarl
from prometheus_client import CollectorRegistry

from bot.connection import EmbeddedRedis, redis_client
from bot.metrics import Metrics
from bot.policy import load_policy
from bot.settings import Settings
from tests.conftest import DEFAULT_POLICY
from tests.discord.conftest import DiscordStack
from tests.discord.fake_discord import FakeDiscord


async def _measure(count: int, redis_url: str, data_dir: Path) -> list[float]:
    fake = FakeDiscord()
    await fake.start()
    redis = redis_client(redis_url)
    settings = Settings(
        redis_url=redis_url, namespace="bench-discord", data_dir=data_dir, block_ms=20,
        _env_file=None,  # type: ignore[call-arg]
    )  # fmt: skip
    with (
        mock.patch.object(discord.http.Route, "BASE", fake.api_base),
        mock.patch.object(
            discord.gateway.DiscordWebSocket, "DEFAULT_GATEWAY", yarl.URL(fake.gateway_url)
        ),
    ):
        stack = DiscordStack(
            fake=fake, redis=redis, settings=settings, policy=load_policy(DEFAULT_POLICY),
            metrics=Metrics(registry=CollectorRegistry()),
        )  # fmt: skip
        await stack.start()
        seconds = []
        try:
            for i in range(count):
                user = ("mallory", "alice")[i % 2]  # two members, to stay under flood limits
                started = time.perf_counter()
                said = await fake.say(f"join discord.gg/bench{i} now", user=user)
                await fake.wait_for(
                    "DELETE", rf"/channels/{said['channel_id']}/messages/{said['id']}"
                )
                seconds.append(time.perf_counter() - started)
        finally:
            await stack.close()
            await redis.flushall()
            await redis.aclose()
            await fake.stop()
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=50)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        server = EmbeddedRedis(data_dir=Path(tmp) / "redis")
        url = server.start()
        try:
            seconds = asyncio.run(_measure(args.messages, url, Path(tmp) / "data"))
        finally:
            server.stop()
    ms = sorted(s * 1000 for s in seconds)
    print(json.dumps({
        "messages": len(ms),
        "median_ms": round(statistics.median(ms), 1),
        "p95_ms": round(ms[int(0.95 * (len(ms) - 1))], 1),
        "max_ms": round(ms[-1], 1),
    }))  # fmt: skip


if __name__ == "__main__":
    main()
