"""Raid mode's pure rules: which accounts are young, what a policy's raid section allows."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from bot.action import NotifyModerators
from bot.connection import Redis
from bot.policy import RaidProtection
from bot.raid import Join, RaidBook, RaidState, is_young
from bot.raid_desk import raid_actions
from bot.settings import Settings
from bot.streams import Streams
from bot.tenant import Tenant

pytestmark = pytest.mark.toolkit

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("age", "days", "young"),
    [
        (timedelta(hours=1), 7, True),
        (timedelta(days=6, hours=23), 7, True),
        (timedelta(days=7), 7, False),
        (timedelta(days=400), 7, False),
        (timedelta(hours=1), 0, False),  # 0 days: the new-account rule is off
    ],
)
def test_young_accounts(age: timedelta, days: int, young: bool) -> None:
    join = Join(
        tenant=Tenant(platform="discord", workspace="1"), member="2",
        account_created=NOW - age, at=NOW,
    )  # fmt: skip
    assert is_young(join, days) is young


def test_raid_protection_is_off_by_default_and_channel_actions_need_channels() -> None:
    assert not RaidProtection().enabled
    assert RaidProtection(joins=20).young_joins == 10
    assert RaidProtection(quiet_after="5m").quiet_after == 300  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="slowmode and lock need channels"):
        RaidProtection(enabled=True, actions=("alert", "lock"))


async def test_two_processes_counting_one_raid_start_it_once(
    redis: Redis, settings: Settings
) -> None:
    """Two adapter processes (two books on one Redis) receive a raid's joins interleaved: each
    join is counted once and exactly one of them starts raid mode."""
    streams = Streams(namespace=settings.namespace)
    books = [RaidBook(redis=redis, streams=streams), RaidBook(redis=redis, streams=streams)]
    tenant = Tenant(platform="discord", workspace="1200000000000000001")
    rules = RaidProtection(enabled=True, joins=20, within=10, new_account_days=0)
    joins = [
        Join(tenant=tenant, member=str(i), account_created=NOW - timedelta(days=400),
             at=NOW + timedelta(milliseconds=i))
        for i in range(30)
    ]  # fmt: skip
    counts = await asyncio.gather(*(books[i % 2].join(j, rules) for i, j in enumerate(joins)))
    started = [c.started for c in counts if c.started is not None]
    assert len(started) == 1
    assert started[0].reason == "20 members joined within 10s"
    assert max(c.joins for c in counts) == 30
    other = Tenant(platform="discord", workspace="1700000000000000001")
    assert await books[0].state(other) is None
    ended = await books[1].end(tenant, now=NOW, force=True)
    assert ended is not None
    assert await books[0].end(tenant, now=NOW, force=True) is None  # ended once


def test_raid_actions_are_stable_and_the_end_undoes_the_start() -> None:
    tenant = Tenant(platform="discord", workspace="1")
    rules = RaidProtection(enabled=True, actions=("alert", "slowmode", "lock"), channels=("c",))
    state = RaidState(
        tenant=tenant, raid_id="7", started_at=NOW, started_by="modtriage", reason="r",
        actions=rules.actions, channels=("10",), slowmode_before={"10": 5},
    )  # fmt: skip
    start = raid_actions(state, rules, ending=False, ping_roles=("99",))
    assert [a.id for a in start] == [a.id for a in raid_actions(state, rules, ending=False)]
    end = raid_actions(state, rules, ending=True)
    assert {a.id for a in start}.isdisjoint(a.id for a in end)
    assert [(a.type, getattr(a, "seconds", None), getattr(a, "locked", None)) for a in end] == [
        ("slowmode", 5, None),
        ("lock", None, False),
        ("notify", None, None),
    ]
    [alert] = [a for a in start if isinstance(a, NotifyModerators)]
    assert alert.text.startswith("<@&99> ")
    assert alert.ping_roles == ("99",)
