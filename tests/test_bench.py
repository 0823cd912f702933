"""`modtriage bench --json` through real Redis: one worker, then every core's worth of worker
processes, what Redis spent per message, and ingest-to-verdict latency at half the all-cores
rate (keys and arithmetic, never speed)."""

from __future__ import annotations

import pytest

from bot.bench import run_bench
from bot.connection import Redis
from bot.keys import Streams
from bot.policy import Policy
from bot.settings import Settings


async def test_one_worker_then_two_processes_decide_every_message_then_an_open_loop_is_timed(
    settings: Settings, default_policy: Policy, redis: Redis
) -> None:
    result = await run_bench(
        settings=settings, policy=default_policy, messages=40, processes=2, latency_s=1.0
    )
    assert result["messages"] == 40
    assert result["workers"] == 2
    one, all_cores = result["pipeline_msgs_per_s"], result["pipeline_msgs_per_s_all_cores"]
    assert one > 0
    assert result["pipeline_msgs_per_cpu_s"] > 0  # the worker's and Redis's CPU time
    assert all_cores > 0
    assert result["scaling_efficiency"] == pytest.approx(all_cores / (2 * one), abs=0.002)
    assert result["redis_us_per_msg"] > 0  # XADD, XREADGROUP, the commit script and XACK cost
    # latency: messages offered at half the all-cores rate, every one of them timed
    assert result["latency_rate_msgs_per_s"] == pytest.approx(all_cores / 2, abs=0.1)
    assert result["latency_messages"] >= 50
    assert 0 <= result["latency_ms_p50"] <= result["latency_ms_p99"]
    # the bench cleans up after itself: nothing of its namespace is left in Redis
    ns = Streams(namespace=f"{settings.namespace}-").ingest.split("}")[0].lstrip("{")
    assert not [key async for key in redis.scan_iter(match=f"*{ns}*")]
