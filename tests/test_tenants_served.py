"""Operators list the tenants they serve (MODTRIAGE_WORKSPACES): messages from anywhere else
are not moderated, and the log says so once per tenant."""

from __future__ import annotations

import pytest
from structlog.testing import capture_logs

from bot.connection import Redis
from bot.message import Author, Message
from bot.pipeline.ingest import Ingest
from bot.settings import Settings
from bot.streams import Streams, decode_message

pytestmark = pytest.mark.tenancy


def _said(workspace: str, n: int) -> Message:
    return Message(
        platform="slack", workspace=workspace, channel="C1", id=f"m{n}",
        author=Author(id="U1"), text="free nitro at discord.gg/x",
    )  # fmt: skip


async def test_only_the_listed_workspaces_are_moderated(
    redis: Redis, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MODTRIAGE_WORKSPACES", "slack:T0TEAM, discord:1200000000000000001")
    served = Settings(_env_file=None).tenants  # type: ignore[call-arg]
    assert [str(t) for t in served] == ["slack:T0TEAM", "discord:1200000000000000001"]
    streams = Streams(namespace=settings.namespace)
    ingest = Ingest(redis=redis, streams=streams, tenants=served)

    with capture_logs() as logs:
        assert await ingest.publish(_said("T9OTHER", 1)) is None
        assert await ingest.publish(_said("T9OTHER", 2)) is None
        assert await ingest.publish(_said("T0TEAM", 3)) is not None

    entries = await redis.xrange(streams.ingest)
    assert [decode_message(i.decode(), f).workspace for i, f in entries] == ["T0TEAM"]
    refusals = [e for e in logs if e["log_level"] == "warning"]
    assert [e["tenant"] for e in refusals] == ["slack:T9OTHER"]  # once, not per message
    assert "not moderated" in refusals[0]["event"]


def test_a_misspelt_workspace_stops_start_up(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MODTRIAGE_WORKSPACES", "T0TEAM")
    with pytest.raises(ValueError, match="write <platform>:<workspace>"):
        Settings(_env_file=None)  # type: ignore[call-arg]
