"""How fast modtriage acknowledges Slack and acts, against the local fake Slack.

    .venv/bin/python -m tests.slack.bench_ack [--events 300] [--slurs 30]

Prints JSON: the ack latency of signed HTTP-mode message events (the HTTP response comes only
after the message is in the ingest stream), and the time from posting a slur to the fake Slack
receiving the member's ephemeral notice (worker with the rules-only classifier, dispatcher,
moderation service, all in one process). Uses REDIS_URL, else an embedded Redis.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import tempfile
import time
import uuid
from pathlib import Path

from prometheus_client import CollectorRegistry

from bot.connection import EmbeddedRedis, redis_client
from bot.logs import configure_logging
from bot.metrics import Metrics
from bot.policy import load_policy
from bot.review.service import ModerationService
from bot.settings import Settings
from bot.streams import Streams
from tests.slack.conftest import SlackStack
from tests.slack.fake_slack import FakeSlack

ROOT = Path(__file__).resolve().parents[2]


def _ms(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    return {
        "median_ms": round(statistics.median(ordered) * 1000, 2),
        "p95_ms": round(ordered[int(len(ordered) * 0.95) - 1] * 1000, 2),
        "max_ms": round(ordered[-1] * 1000, 2),
        "n": len(ordered),
    }


async def bench(events: int, slurs: int, redis_url: str) -> dict[str, object]:
    redis = redis_client(redis_url)
    settings = Settings(
        redis_url=redis_url,
        namespace=f"bench-{uuid.uuid4().hex[:8]}",
        classifier="rules",
        block_ms=20,
        _env_file=None,
    )  # type: ignore[call-arg]
    policy = load_policy(ROOT / "bot" / "policies" / "default.yaml")
    fake = FakeSlack()
    await fake.start()
    moderation = ModerationService(
        redis=redis, streams=Streams(namespace=settings.namespace), policy=policy
    )
    stack = SlackStack(
        fake=fake,
        redis=redis,
        settings=settings,
        policy=policy,
        metrics=Metrics(registry=CollectorRegistry()),
        moderation=moderation,
    )
    await stack.start()
    acks, e2e = [], []
    try:
        for i in range(events):
            start = time.perf_counter()
            await stack.say(
                f"hello team, status update number {i}",
                user=f"U{i % 50:04d}",
                ts=f"1764400000.{i:06d}",
            )
            acks.append(time.perf_counter() - start)
        for i in range(slurs):
            start = time.perf_counter()
            await stack.say("you f4gg0t", user=f"UBAD{i:04d}", ts=f"1764500000.{i:06d}")
            await fake.wait_for("chat.postEphemeral", count=i + 1, within_s=30)
            e2e.append(time.perf_counter() - start)
    finally:
        await stack.stop()
        await fake.stop()
        await redis.aclose()
    return {"event_ack": _ms(acks), "slur_to_notice": _ms(e2e), "redis": redis_url.split(":")[0]}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=300)
    parser.add_argument("--slurs", type=int, default=30)
    args = parser.parse_args()
    configure_logging(level="WARNING")
    url = os.environ.get("REDIS_URL")
    with tempfile.TemporaryDirectory() as tmp:
        embedded = None
        if url is None:
            embedded = EmbeddedRedis(data_dir=Path(tmp))
            url = embedded.start()
        try:
            print(json.dumps(asyncio.run(bench(args.events, args.slurs, url)), indent=2))
        finally:
            if embedded is not None:
                embedded.stop()


if __name__ == "__main__":
    main()
