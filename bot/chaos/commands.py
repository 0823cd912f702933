"""``modtriage chaos``: the chaos scenarios, as ``make chaos`` runs them."""

from __future__ import annotations

import asyncio
import json
import shutil
from pathlib import Path
from typing import Annotated

import typer

__all__ = ["chaos"]


def chaos(
    as_json: Annotated[bool, typer.Option("--json", help="print one JSON object")] = False,
    short: Annotated[
        bool, typer.Option("--short", help="the short form make test runs (200 messages)")
    ] = False,
    messages: Annotated[
        int | None, typer.Option(min=20, help="messages per scenario (default 2000)")
    ] = None,
    scenario: Annotated[
        list[str] | None, typer.Option(help="run only this scenario (repeatable)")
    ] = None,
    workdir: Annotated[
        Path | None, typer.Option(help="logs and data (default MODTRIAGE_DATA_DIR/chaos)")
    ] = None,
) -> None:
    """Break workers, Redis and the model; count what was lost.

    Kills workers, Redis and the adapter, takes the model away and sends hostile input: real
    processes on a Redis of their own. Exits 1 when anything was lost or any action ran twice."""
    from bot.chaos import SCENARIOS, ChaosSize, run_chaos
    from bot.logs import configure_logging
    from bot.settings import Settings

    unknown = sorted(set(scenario or ()) - set(SCENARIOS))
    if unknown:
        raise typer.BadParameter(f"unknown scenario {unknown}; choose from {sorted(SCENARIOS)}")
    configure_logging(level="WARNING", json=False)
    size = ChaosSize.short() if short else ChaosSize()
    if messages is not None:
        size = size.model_copy(update={"messages": messages})
    where = workdir or Settings().data_dir / "chaos"
    shutil.rmtree(where, ignore_errors=True)
    where.mkdir(parents=True)
    report = asyncio.run(run_chaos(size=size, workdir=where.resolve(), names=scenario))
    if as_json:
        typer.echo(json.dumps({"scenarios": [s.model_dump() for s in report.scenarios]}))
    else:
        typer.echo(report.table())
        for result in report.scenarios:
            for line in result.evidence:
                typer.echo(f"{result.name}: {line}")
            for problem in result.problems:
                typer.echo(f"{result.name}: PROBLEM: {problem}")
    typer.echo(f"logs: {where}", err=True)
    if not report.ok:
        raise typer.Exit(1)
