"""What keeping handed-off FAQ questions costs: Redis memory per question and the time to
record them, in batches as the worker does, and to read them back for ``faq suggest``.

    .venv/bin/python tools/faq_handoff_cost.py redis://127.0.0.1:6379/0 [--questions 1000]

Writes under a namespace of its own and deletes it afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
import uuid
from datetime import UTC, datetime

from bot.connection import redis_client
from bot.faq.handoffs import HandoffLog
from bot.keys import Streams
from bot.message import Author, Message
from bot.tenant import Tenant


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("redis_url")
    parser.add_argument("--questions", type=int, default=1000)
    parser.add_argument("--batch", type=int, default=32)
    args = parser.parse_args()
    redis = redis_client(args.redis_url)
    streams = Streams(namespace=f"cost-{uuid.uuid4().hex[:8]}")
    log = HandoffLog(redis=redis, streams=streams)
    tenant = Tenant(platform="slack", workspace="T1")
    keys = streams.tenant(tenant)
    now = datetime.now(UTC)
    asked = [
        Message(platform="slack", workspace="T1", channel="C1", id=f"{1764320000 + i}.000100",
                author=Author(id=f"U{i % 300:08d}"), ts=now,
                text=f"hi, how do I change the default port of the dev server (try {i})?")
        for i in range(args.questions)
    ]  # fmt: skip
    try:
        started = time.perf_counter()
        for i in range(0, len(asked), args.batch):
            await log.record(questions=asked[i : i + args.batch], replies=[], keep_days=30)
        record_s = time.perf_counter() - started
        started = time.perf_counter()
        read = await log.read(tenant, since=datetime(2000, 1, 1, tzinfo=UTC))
        read_s = time.perf_counter() - started
        stream = await redis.memory_usage(keys.faq_asked, samples=0) or 0
        marker = await redis.memory_usage(keys.faq_thread(asked[0].id)) or 0
        print(json.dumps({
            "questions": len(asked),
            "stream_bytes_per_question": round(stream / len(asked)),
            "thread_marker_bytes": marker,
            "record_ms_per_batch": round(record_s * 1000 / -(-len(asked) // args.batch), 2),
            "batch": args.batch,
            "read_ms": round(read_s * 1000),
            "read": len(read),
        }))  # fmt: skip
    finally:
        markers = [k async for k in redis.scan_iter(match=keys.faq_thread("*"))]
        await redis.delete(keys.faq_asked, *markers)
        await redis.aclose()


if __name__ == "__main__":
    asyncio.run(main())
