"""``/mod backtest <version> [days]`` on Slack: what a stored policy version would have done to
the workspace's recorded messages (a candidate file is attached on Discord or run with
``modtriage backtest``; Slack's slash commands carry no file)."""

from __future__ import annotations

from bot.insights.backtest_summary import summary_lines
from bot.review.actor import Actor
from bot.review.interface import Moderation
from bot.stats import MAX_DAYS

__all__ = ["USAGE", "backtest_reply", "check"]

USAGE = "`/mod backtest <policy version> [days]`"


def check(arg: str) -> None:
    """Raises ValueError with what to type instead."""
    parts = arg.split()
    if not 1 <= len(parts) <= 2 or (
        len(parts) == 2 and not (parts[1].isdigit() and 1 <= int(parts[1]) <= MAX_DAYS)
    ):
        raise ValueError(f"backtest takes a policy version and 1 to {MAX_DAYS} days: {USAGE}")


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


async def backtest_reply(arg: str, *, actor: Actor, moderation: Moderation) -> str:
    """Raises ReviewError: the service refused (not a moderator, unknown version, ...)."""
    version, _, days = arg.partition(" ")
    report = await moderation.backtest(
        actor, version=version.strip("`"), days=int(days.strip() or 30)
    )
    lines = [_escape(line) for line in summary_lines(report)]
    return f"*{lines[0]}*\n" + "\n".join(f"• {line}" for line in lines[1:])
