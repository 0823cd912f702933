"""The operators' review commands against a real Redis, mounted the way bot/cli.py mounts them."""

from __future__ import annotations

import asyncio
import json

import pytest
import typer
from typer.testing import CliRunner

from bot.connection import redis_client
from bot.message import Author, Message
from bot.policy import load_policy
from bot.review.actor import Actor
from bot.review.commands import app as review_app
from bot.review.service import ModerationService
from bot.streams import Streams
from tests.conftest import DEFAULT_POLICY

pytestmark = pytest.mark.review


@pytest.fixture
def cli(redis_url: str, namespace: str, monkeypatch: pytest.MonkeyPatch) -> typer.Typer:
    monkeypatch.setenv("REDIS_URL", redis_url)
    monkeypatch.setenv("MODTRIAGE_NAMESPACE", namespace)
    monkeypatch.setenv("MODTRIAGE_WORKSPACES", "discord:G1")
    root = typer.Typer()

    @root.command()
    def version() -> None:
        """Stands in for the main app's own commands."""

    root.add_typer(review_app)
    return root


def _reported(redis_url: str, namespace: str) -> str:
    async def run() -> str:
        redis = redis_client(redis_url)
        try:
            service = ModerationService(
                redis=redis,
                streams=Streams(namespace=namespace),
                policy=load_policy(DEFAULT_POLICY),
            )
            message = Message(
                platform="discord", workspace="G1", channel="C7", id="900",
                author=Author(id="zed"), text="dm me for cheap followers",
            )  # fmt: skip
            reporter = Actor(platform="discord", workspace="G1", user_id="amy")
            return (await service.report(reporter, message, "spam in DMs too")).id
        finally:
            await redis.aclose()

    return asyncio.run(run())


def test_an_operator_works_the_queue(cli: typer.Typer, redis_url: str, namespace: str) -> None:
    runner = CliRunner()
    case_id = _reported(redis_url, namespace)
    queued = runner.invoke(cli, ["queue"])
    assert queued.exit_code == 0, queued.output
    assert "dm me for cheap followers" in queued.output
    claimed = runner.invoke(cli, ["claim", case_id, "--as", "ops-kim"])
    assert "claimed by discord:ops-kim" in claimed.output
    taken = runner.invoke(cli, ["decide", case_id, "dismiss", "--as", "ops-lee"])
    assert taken.exit_code == 1
    assert "claimed by discord:ops-kim" in taken.output
    decided = runner.invoke(
        cli,
        ["decide", case_id, "timeout", "--duration", "2h", "--category", "spam", "--as", "ops-kim"],
    )
    assert decided.exit_code == 0, decided.output
    assert "actions: delete, warn, timeout" in decided.output
    shown = runner.invoke(cli, ["case", "show", case_id])
    assert "timeout 7200s by discord:ops-kim: emitted" in shown.output
    assert "reported by discord:amy: reported by discord:amy: spam in DMs too" in shown.output
    # The only tenant served is the default: no --workspace needed.
    history = runner.invoke(cli, ["history", "zed"])
    assert "zed: 1 case(s), 1 strike point(s) in the current window" in history.output
    channel = runner.invoke(
        cli, ["case", "channel", "C7", "--platform", "discord", "--workspace", "G1"]
    )
    assert f"{case_id:>5}  actioned" in channel.output
    stats = json.loads(runner.invoke(cli, ["stats", "--json"]).output)
    assert stats["decided"] == {"timeout": 1}
    assert stats["labelled_examples"] == 1
    assert stats["days"] == 7


def test_stats_over_a_window(cli: typer.Typer, redis_url: str, namespace: str) -> None:
    runner = CliRunner()
    _reported(redis_url, namespace)
    today = runner.invoke(cli, ["stats", "--days", "1"])
    assert today.exit_code == 0, today.output
    assert today.output.startswith("stats over the last day (")
    lines = dict(line.split(None, 1) for line in today.output.splitlines()[1:])
    assert lines["cases_opened"] == "1"
    assert lines["route:report"] == "1"
    week = runner.invoke(cli, ["stats", "--since", "30d"])
    assert week.output.startswith("stats over the last 30 days (")
    assert runner.invoke(cli, ["stats", "--since", "7x"]).exit_code == 2
    assert runner.invoke(cli, ["stats", "--days", "2", "--since", "2d"]).exit_code == 2


@pytest.mark.tenancy
def test_with_several_tenants_the_operator_says_which(
    cli: typer.Typer, redis_url: str, namespace: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    case_id = _reported(redis_url, namespace)
    monkeypatch.delenv("MODTRIAGE_WORKSPACES")
    runner = CliRunner()
    # Without a list of tenants, the only one with cases is the default.
    assert "zed: 1 case(s)" in runner.invoke(cli, ["history", "zed"]).output
    monkeypatch.setenv("MODTRIAGE_WORKSPACES", "discord:G1,slack:T0TEAM")
    asked = runner.invoke(cli, ["queue"])
    assert asked.exit_code == 2
    said = " ".join(asked.output.split())
    assert (
        "several workspaces: say which with --workspace (one of discord:G1, slack:T0TEAM)" in said
    )
    assert (
        "the queue is empty" in runner.invoke(cli, ["queue", "--workspace", "slack:T0TEAM"]).output
    )
    # An operator of the Slack workspace does not reach the Discord guild's case.
    other = runner.invoke(cli, ["case", "show", case_id, "--workspace", "slack:T0TEAM"])
    assert other.exit_code == 1
    assert f"no case '{case_id}'" in other.output
    assert "dm me" in runner.invoke(cli, ["queue", "--workspace", "discord:G1"]).output


def test_shadow_mode_from_the_command_line(cli: typer.Typer) -> None:
    runner = CliRunner()
    assert "off everywhere" in runner.invoke(cli, ["shadow", "status"]).output
    assert "channel:C9" in runner.invoke(cli, ["shadow", "on", "--channel", "C9"]).output
    assert "off everywhere" in runner.invoke(cli, ["shadow", "off", "--channel", "C9"]).output
    bad = runner.invoke(cli, ["shadow", "on", "--category", "nonsense"])
    assert bad.exit_code == 1
    assert "unknown category 'nonsense'" in bad.output


@pytest.mark.parametrize(
    ("args", "code", "said"),
    [
        (["case", "show", "404"], 1, "no case '404'"),
        (["decide", "404", "dismiss"], 1, "no case '404'"),
        (["decide", "1", "explode"], 2, "bad decision: Input should be 'remove'"),
        (["decide", "1", "timeout", "--duration", "soon"], 2, "bad decision: write a duration"),
        (["shadow", "maybe"], 2, "say on, off, status or report"),
        (["history", "u1", "--platform", "irc"], 2, "--platform must be slack, discord or"),
    ],
)
def test_bad_input_gets_a_clear_error(
    cli: typer.Typer, args: list[str], code: int, said: str
) -> None:
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == code
    assert said in " ".join(result.output.split())
