"""A chaos suite: real processes on a real Redis, faults injected, nothing may be lost or done
twice (``modtriage chaos``, ``make chaos``; a short form runs in ``make test``).

Modules: :mod:`~bot.chaos.scenarios` (what each scenario does), :mod:`~bot.chaos.world` (the
Redis server and processes one scenario runs), :mod:`~bot.chaos.cluster` (the processes),
:mod:`~bot.chaos.redis_server`, :mod:`~bot.chaos.faults`, :mod:`~bot.chaos.traffic` (what is
published), :mod:`~bot.chaos.tally` (counting from Redis), :mod:`~bot.chaos.report`, and
:mod:`~bot.chaos.dispatcher` (the console adapter's process).
"""

from __future__ import annotations

from bot.chaos.report import ChaosReport, ScenarioResult
from bot.chaos.scenarios import SCENARIOS, run_chaos
from bot.chaos.world import ChaosSize

__all__ = ["SCENARIOS", "ChaosReport", "ChaosSize", "ScenarioResult", "run_chaos"]
