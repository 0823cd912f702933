"""Stats: counters land in the UTC day's bucket of their own tenant, a window sums its days."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from bot.connection import Redis
from bot.errors import InvalidRequest
from bot.policy import Policy
from bot.review.actor import Actor
from bot.review.service import ModerationService
from bot.stats import BUCKET_TTL_S, Counter, Stats, StatsBook
from bot.streams import Streams
from bot.tenant import Tenant

OURS = Tenant(platform="slack", workspace="T1")
THEIRS = Tenant(platform="slack", workspace="T2")
TODAY = datetime(2024, 5, 8, 12, 0, tzinfo=UTC)


def _mod(tenant: Tenant) -> Actor:
    return Actor(platform=tenant.platform, workspace=tenant.workspace, user_id="ana", is_admin=True)


@pytest.mark.tenancy
async def test_counts_land_in_the_utc_day_bucket_of_their_tenant(
    redis: Redis, namespace: str
) -> None:
    streams = Streams(namespace=namespace)
    book = StatsBook(redis=redis, streams=streams)
    # 01:30 at UTC+2 is still the previous UTC day.
    late = datetime(2024, 5, 8, 1, 30, tzinfo=timezone(timedelta(hours=2)))
    await book.add(OURS, {Counter.route("ask"): 1, Counter.MESSAGES_DECIDED: 2}, at=late)
    await book.add(THEIRS, {Counter.MESSAGES_DECIDED: 5}, at=TODAY)

    ours = streams.tenant(OURS)
    assert await redis.hgetall(ours.stats(date(2024, 5, 7))) == {
        b"route:ask": b"1",
        b"messages_decided": b"2",
    }
    assert await redis.exists(ours.stats(date(2024, 5, 8))) == 0
    assert await redis.hgetall(streams.tenant(THEIRS).stats(date(2024, 5, 8))) == {
        b"messages_decided": b"5"
    }
    assert 0 < await redis.ttl(ours.stats(date(2024, 5, 7))) <= BUCKET_TTL_S


async def test_a_window_sums_its_days_and_no_others(redis: Redis, namespace: str) -> None:
    book = StatsBook(redis=redis, streams=Streams(namespace=namespace))
    for back, count in ((0, 1), (1, 10), (6, 100), (7, 1000)):
        await book.add(OURS, {Counter.CASES_OPENED: count}, at=TODAY - timedelta(days=back))

    assert (await book.window(OURS, days=1, until=TODAY)) == {Counter.CASES_OPENED: 1}
    assert (await book.window(OURS, days=2, until=TODAY)) == {Counter.CASES_OPENED: 11}
    assert (await book.window(OURS, days=7, until=TODAY)) == {Counter.CASES_OPENED: 111}
    assert (await book.window(OURS, days=8, until=TODAY)) == {Counter.CASES_OPENED: 1111}
    with pytest.raises(ValueError, match="1 to 400 days"):
        await book.window(OURS, days=0, until=TODAY)


@pytest.mark.tenancy
async def test_the_service_reads_its_tenants_window_only(
    redis: Redis, namespace: str, default_policy: Policy
) -> None:
    streams = Streams(namespace=namespace)
    book = StatsBook(redis=redis, streams=streams)
    service = ModerationService(
        redis=redis, streams=streams, policy=default_policy, clock=lambda: TODAY
    )
    await book.add(
        OURS,
        {
            Counter.MESSAGES_DECIDED: 4,
            Counter.CASES_OPENED: 2,
            Counter.route("escalate"): 1,
            Counter.action("delete"): 2,
            Counter.cost("USD"): 0.25,
        },
        at=TODAY,
    )
    await book.add(OURS, {Counter.MESSAGES_DECIDED: 50}, at=TODAY - timedelta(days=7))
    await book.add(THEIRS, {Counter.MESSAGES_DECIDED: 9, Counter.route("ban"): 3}, at=TODAY)

    stats = await service.stats(_mod(OURS))
    assert (stats.days, stats.since, stats.until) == (7, date(2024, 5, 2), date(2024, 5, 8))
    assert stats.window == "last 7 days (2024-05-02 to 2024-05-08, UTC)"
    assert stats.messages_decided == 4
    assert stats.routes == {"escalate": 1}
    assert stats.actions == {"delete": 2}
    assert stats.cost == {"usd": 0.25}
    assert stats.escalation_share == 0.5
    assert (await service.stats(_mod(OURS), days=8)).messages_decided == 54
    theirs = await service.stats(_mod(THEIRS), days=30)
    assert (theirs.messages_decided, theirs.routes, theirs.cost) == (9, {"ban": 3}, {})
    with pytest.raises(InvalidRequest, match="1 to 400 days"):
        await service.stats(_mod(OURS), days=401)


def test_an_unknown_counter_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown stats counter 'route'"):
        Stats.of({"route": 1}, days=1, until=date(2024, 5, 8))
