"""``/mod backtest`` on Discord: the candidate policy attached as a file, or a stored policy
version named; the summary answered only to the moderator."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import discord

from bot.adapters.discord.views import actor_of
from bot.errors import InvalidRequest
from bot.insights.backtest_summary import summary_lines
from bot.review.backtest_desk import MAX_POLICY_BYTES

if TYPE_CHECKING:
    from bot.adapters.discord.bot import ModtriageBot

__all__ = ["backtest_text"]


async def backtest_text(
    bot: ModtriageBot,
    interaction: discord.Interaction[Any],
    policy_file: discord.Attachment | None,
    version: str | None,
    days: int,
) -> str:
    """The summary to answer with (ReviewError from the service: refused, with why).

    Raises:
        ValueError: the attachment cannot be downloaded (the reason is safe to show).
    """
    actor = actor_of(interaction)
    candidate = None
    filename = "candidate.yaml"
    if policy_file is not None:
        if policy_file.size > MAX_POLICY_BYTES:
            raise InvalidRequest(f"a policy file is at most {MAX_POLICY_BYTES} bytes")
        try:
            candidate = await policy_file.read()
        except discord.HTTPException as exc:
            raise ValueError(f"the attachment could not be downloaded ({exc.status})") from exc
        filename = policy_file.filename
    report = await bot.moderation.backtest(
        actor, candidate=candidate, filename=filename, version=version, days=days
    )
    return "\n".join(summary_lines(report))[:2000]
