"""Streams split into partitions by tenant: where each key lives, two communities moderated on
different partitions, workers given some partitions, and the count a namespace was written
with. (The same on a real Redis Cluster: tests/test_cluster.py.)"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime

import pytest

from bot.connection import Redis
from bot.errors import CaseNotFound, ConfigError
from bot.keys import CaseKeys, Streams
from bot.message import Message
from bot.metrics import Metrics
from bot.policy import Policy
from bot.review.actor import Actor
from bot.settings import Settings, load_settings
from bot.streams import read_decision
from bot.tenant import Tenant
from tests.harness import rules_chat
from tests.review_harness import Clock, ReviewHarness, moderator

T1 = Tenant(platform="console", workspace="T1")


def _other(streams: Streams) -> Tenant:
    """A console workspace in another partition than T1's."""
    for n in range(2, 100):
        tenant = Tenant(platform="console", workspace=f"T{n}")
        if streams.partition_of(tenant) != streams.partition_of(T1):
            return tenant
    raise AssertionError("every workspace hashed to one partition")


def test_one_partition_keeps_every_key_name_as_it_was() -> None:
    streams = Streams()
    assert streams.ingest == "{modtriage}:ingest"
    assert streams.of(T1).actions("slack") == "{modtriage}:actions:slack"
    assert streams.tenant(T1).queue == "{modtriage}:tenant:console:T1:queue"
    assert CaseKeys(streams).case("7", T1) == "{modtriage}:case:7"
    assert CaseKeys(streams).number(7, T1) == "7"


def test_a_tenants_keys_share_its_partitions_tag_and_shared_keys_stay_apart() -> None:
    streams = Streams(partitions=8)
    tenants = [
        Tenant(platform="discord", workspace=str(1200000000000000000 + n)) for n in range(40)
    ]
    assert len({streams.partition_of(t) for t in tenants}) >= 6  # spread
    for tenant in tenants:
        tag = streams.tag(streams.partition_of(tenant)) + ":"
        own, cases = streams.of(tenant), CaseKeys(streams)
        message_key = f"{tenant}:C1:m1"
        named = [
            own.ingest, own.verdicts, own.dead, own.actions("discord"), own.due("discord"),
            own.raids, streams.tenant(tenant).queue, streams.verdict_key(message_key),
            streams.escalation(message_key), cases.case("9", tenant), cases.dedupe("x", tenant),
            cases.by_message(message_key), cases.seq(tenant), cases.all(tenant),
            streams.counter("flood", tenant.platform, tenant.workspace, "C1", "u1"),
            streams.recent(tenant.platform, tenant.workspace, "C1"),
        ]  # fmt: skip
        assert [k for k in named if not k.startswith(tag)] == []
    assert streams.policy_default.startswith("{modtriage}:")
    assert streams.frontier_spend("day", "2026-12-01").startswith("{modtriage}:")
    assert streams.partitions_key == "{modtriage}:partitions"
    with pytest.raises(RuntimeError, match="bind the names first"):
        _ = streams.ingest  # which partition's? never guessed


def test_case_ids_of_different_partitions_never_collide() -> None:
    cases = CaseKeys(Streams(partitions=4))
    other = _other(Streams(partitions=4))
    ids = {cases.number(n, tenant) for n in range(1, 50) for tenant in (T1, other)}
    assert len(ids) == 98


def _review(redis: Redis, settings: Settings, policy: Policy, metrics: Metrics) -> ReviewHarness:
    chat = rules_chat(redis=redis, settings=settings, policy=policy, metrics=metrics)
    return ReviewHarness(chat=chat, clock=Clock(datetime(2026, 12, 1, 12, 0, tzinfo=UTC)))


def _in(message: Message, tenant: Tenant) -> Message:
    return message.model_copy(update={"workspace": tenant.workspace})


async def test_two_communities_on_different_partitions_are_moderated_apart(
    redis: Redis, settings: Settings, default_policy: Policy, metrics: Metrics
) -> None:
    settings = settings.model_copy(update={"partitions": 4})
    review = _review(redis, settings, default_policy, metrics)
    chat, streams = review.chat, settings.streams()
    other = _other(streams)
    carol = chat.message("free nitro: discord.gg/abc", user="carol")
    dave = _in(chat.message("free nitro: discord.gg/xyz", user="dave"), other)
    await chat.ingest.publish(carol)
    await chat.ingest.publish(dave)
    assert await redis.xlen(streams.of(T1).ingest) == 1  # each on its own partition's stream
    assert await redis.xlen(streams.of(other).ingest) == 1
    await chat.worker.ensure_group()
    while await chat.worker.step():
        pass
    await review.settle()

    assert (await read_decision(redis, streams, carol.key)) is not None
    assert (await read_decision(redis, streams, dave.key)) is not None
    [carols] = await review.service.history(moderator(), "carol")
    their_mod = Actor(
        platform="console", workspace=other.workspace, user_id="m", roles=("moderator",)
    )
    [daves] = await review.service.history(their_mod, "dave")
    assert carols.id != daves.id
    assert await review.service.history(moderator(), "dave") == []  # T1's desk: not theirs
    assert (await review.service.case(their_mod, daves.id)).message.key == dave.key
    with pytest.raises(CaseNotFound):
        await review.service.case(moderator(), daves.id)
    # the case lives where its tenant does
    assert await redis.exists(CaseKeys(streams).case(daves.id, other)) == 1
    assert await redis.exists(CaseKeys(streams).case(daves.id, T1)) == 0
    # each partition's dispatcher performed its own community's removals
    deleted = {a.message_key for a in review.platform.performed if a.type == "delete"}
    assert deleted == {carol.key, dave.key}


async def test_a_worker_reads_only_the_partitions_it_is_given(
    redis: Redis, settings: Settings, default_policy: Policy, metrics: Metrics
) -> None:
    four = settings.model_copy(update={"partitions": 4})
    mine = four.model_copy(update={"worker_partitions": (four.streams().partition_of(T1),)})
    chat = rules_chat(redis=redis, settings=mine, policy=default_policy, metrics=metrics)
    other = _other(four.streams())
    here, there = chat.message("hello"), _in(chat.message("hi"), other)
    await chat.ingest.publish(here)
    await chat.ingest.publish(there)
    await chat.worker.ensure_group()
    for _ in range(3):
        await chat.worker.step()

    assert chat.worker.partitions == [four.streams().partition_of(T1)]
    assert await read_decision(redis, four.streams(), here.key) is not None
    assert await read_decision(redis, four.streams(), there.key) is None  # another's to do


async def test_a_worker_refuses_a_partition_count_the_streams_were_not_written_with(
    redis: Redis, settings: Settings, default_policy: Policy, metrics: Metrics
) -> None:
    four = settings.model_copy(update={"partitions": 4})
    first = rules_chat(redis=redis, settings=four, policy=default_policy, metrics=metrics)
    await first.worker.ensure_group()  # the first to start records 4
    two = settings.model_copy(update={"partitions": 2})
    later = rules_chat(redis=redis, settings=two, policy=default_policy, metrics=metrics)
    with pytest.raises(ConfigError, match="written with 4 partitions") as refused:
        await later.worker.ensure_group()
    assert "modtriage partitions set 2" in str(refused.value)


def test_worker_partitions_take_numbers_and_ranges_and_refuse_unknown_ones() -> None:
    chosen = load_settings(partitions=8, worker_partitions="0-2, 5", _env_file=None)
    assert chosen.worker_partitions == (0, 1, 2, 5)
    with pytest.raises(ConfigError, match="there are 4 partitions"):
        load_settings(partitions=4, worker_partitions="5", _env_file=None)
    with pytest.raises(ConfigError, match="not a partition number"):
        load_settings(partitions=4, worker_partitions="one", _env_file=None)


def _cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("MODTRIAGE_")}
    return subprocess.run(
        [sys.executable, "-m", "bot", "partitions", *args],
        env=base | env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


def test_an_operator_reads_and_switches_the_partition_count_from_the_command_line(
    redis_url: str, namespace: str
) -> None:
    env = {"REDIS_URL": redis_url, "MODTRIAGE_NAMESPACE": namespace}
    shown = json.loads(_cli("show", "--json", env=env).stdout)
    assert shown["configured"] == 1
    assert shown["recorded"] is None  # nothing started yet
    assert [p["drained"] for p in shown["partitions"]] == [True]

    switched = _cli("set", "4", env=env)
    assert switched.returncode == 0, switched.stderr
    assert json.loads(switched.stdout)["after"] == 4
    shown = json.loads(_cli("show", "--json", env=env | {"MODTRIAGE_PARTITIONS": "4"}).stdout)
    assert shown["recorded"] == 4
    assert len(shown["partitions"]) == 4

    stale = _cli("set", "2", env=env)  # still configured for one partition
    assert stale.returncode == 2
    assert "the namespace has 4 partitions, not 1" in stale.stderr
