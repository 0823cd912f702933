"""Raid mode's pure rules: which accounts are young, what a policy's raid section allows."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from bot.policy import RaidProtection
from bot.raid import Join, is_young
from bot.tenant import Tenant

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
