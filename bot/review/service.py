"""The one platform-free moderation service: cases, the review queue, strikes and appeals.

Slack and Discord adapters and the operators' CLI only parse, call one operation and render.
Permission checks happen here, not in the UI, against the tenant (platform, workspace) of
what is acted on (:mod:`bot.review.core`). Split by feature, as Red splits its mod cog:

- :mod:`bot.review.intake` — what the dispatcher and members need: cases opened from
  reports, what became of actions, shadow mode for automatic actions (cases opened from
  verdicts are planned by :mod:`bot.review.opening` and written by the worker's commit);
- :mod:`bot.review.desk` — the review desk: queue, cases, history, claim, decide, appeal;
- :mod:`bot.review.policy_desk` — the policy desk: test, ask, reload, shadow, stats;
- :mod:`bot.review.insights_desk` — what shadow mode would have done, and score drift;
- :mod:`bot.review.backtest_desk` — what a candidate policy would have done (``/mod backtest``);
- :mod:`bot.review.direct` — the moderator's toolkit: direct actions, notes, mod logs.
- :mod:`bot.review.summary_desk` — a thread or a case in five lines (``/mod summary``).
- :mod:`bot.review.faq_desk` — FAQ entries proposed from handed-off questions, and accepted.
- :mod:`bot.review.setup_desk` — what moderators configure from chat: where alerts go,
  per-channel switches, the policy shown.

Storage and atomicity: :mod:`bot.review.store`; key names: :mod:`bot.keys`.

Case life::

    open ──claim──> open (claimed) ──decide remove|warn|timeout|kick|ban──> actioned
      └──────────────────────────────decide dismiss──────────────────────> dismissed
    actioned ──member appeals──> appealed ──overturn──> overturned  (sanctions lifted)
                                          └──uphold───> actioned    (appeal closed)
    actioned ──overturn (a moderator, without an appeal)──> overturned

A pipeline verdict that acted opens its case as *actioned*; one in the review band (or any
verdict in shadow mode) opens it as *open*, in the queue. Moderators' decisions execute even in
shadow mode: shadow mode silences the bot, not the people.

``decide`` writes the decision and publishes the actions it calls for to the platform's
actions stream in one atomic step, with stable ids ``case-<id>-<version>-<type>``; the action
dispatcher performs each once. ``decide`` also returns them, for display. Do not perform
the returned actions yourself.
"""

from __future__ import annotations

from bot.review.backtest_desk import BacktestDesk
from bot.review.desk import ReviewDesk
from bot.review.direct import DirectDesk
from bot.review.faq_desk import FaqDesk
from bot.review.insights_desk import InsightsDesk
from bot.review.intake import Intake
from bot.review.interface import Moderation
from bot.review.policy_desk import PolicyDesk
from bot.review.setup_desk import SetupDesk
from bot.review.summary_desk import SummaryDesk

__all__ = ["ModerationService"]


class ModerationService(
    Intake,
    ReviewDesk,
    PolicyDesk,
    InsightsDesk,
    BacktestDesk,
    DirectDesk,
    SummaryDesk,
    SetupDesk,
    FaqDesk,
):
    """Implements :class:`bot.review.interface.Moderation` on Redis; the constructor is
    :class:`bot.review.core.ServiceCore`'s."""


def _conforms(service: ModerationService) -> Moderation:
    """Never called: mypy checks here that the service satisfies the protocol."""
    return service
