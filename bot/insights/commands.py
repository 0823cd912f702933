"""CLI: ``modtriage backtest`` (mounted in ``bot/cli.py``)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from bot.errors import ModtriageError
from bot.insights.backtest import Backtest, BacktestReport, read_decisions, read_history
from bot.policy import Policy, load_policy, parse_duration
from bot.settings import Settings
from bot.tenant import Tenant, named_tenant
from bot.terminal import fail

__all__ = ["backtest"]


def backtest(
    policy: Annotated[Path, typer.Option("--policy", help="the candidate policy YAML")],
    workspace: Annotated[
        str | None,
        typer.Option("--workspace", help="the tenant, e.g. slack:T0123; default the only one"),
    ] = None,
    since: Annotated[
        str | None, typer.Option("--since", help="how far back, e.g. 30d (default: all kept)")
    ] = None,
    limit: Annotated[int, typer.Option(min=1, help="at most this many messages")] = 100_000,
    as_json: Annotated[bool, typer.Option("--json", help="print one JSON object")] = False,
    plot: Annotated[
        Path | None,
        typer.Option("--plot", help="write a PNG: per category, messages per route, both ways"),
    ] = None,
) -> None:
    """What a candidate policy would have done.

    Replays a workspace's recorded messages through the candidate's judge and compares with
    what happened and with the moderators' decisions. Nothing is acted on or sent out."""
    settings = Settings()
    try:
        tenant = named_tenant(workspace, settings.tenants)
        candidate = load_policy(policy)
        start = None
        if since is not None:
            seconds = parse_duration(since)
            assert isinstance(seconds, int)  # a string is parsed or refused
            start = datetime.now(UTC) - timedelta(seconds=seconds)
        report = asyncio.run(_backtest(settings, tenant, candidate, start, limit))
    except ValueError as exc:
        raise fail(f"--since: {exc}") from exc
    except ModtriageError as exc:
        raise fail(str(exc)) from exc
    if plot is not None:
        from bot.plots import backtest_figure, save

        try:
            title = f"{report.tenant}: recorded vs candidate {report.candidate}"
            before, after = report.routes_by_category_before, report.routes_by_category_after
            save(backtest_figure(before, after, title=title), plot)
        except ModtriageError as exc:
            raise fail(str(exc)) from exc
    if as_json:
        typer.echo(report.model_dump_json())
        return
    _print(report)


async def _backtest(
    settings: Settings, tenant: Tenant, candidate: Policy, since: datetime | None, limit: int
) -> BacktestReport:
    from bot.classifiers import build_classifier
    from bot.connection import connect
    from bot.policy_book import PolicyBook

    streams = settings.streams()
    async with connect(settings) as redis:
        history = await read_history(redis, streams, tenant, since=since, limit=limit)
        decisions = await read_decisions(redis, streams, tenant)
        book = PolicyBook.from_settings(
            redis=redis, settings=settings, default=load_policy(settings.policy)
        )
        current = await book.current_one(tenant)
    classifier = build_classifier(settings, candidate)
    return await Backtest(settings=settings, classifier=classifier).run(
        history, candidate, tenant=tenant, decisions=decisions, since=since, current=current
    )


def _print(report: BacktestReport) -> None:
    out = Console(highlight=False)
    out.print(
        f"[bold]{report.tenant}[/]: {report.n} messages under candidate {report.candidate} "
        f"(recorded under {', '.join(report.recorded_versions) or '-'}); "
        f"{report.changed} change route; the model scored {report.model_calls} again"
    )
    routes = Table(title="routes")
    for column in ("route", "recorded", "candidate"):
        routes.add_column(column, justify="left" if column == "route" else "right")
    for route, n in report.routes_before.items():
        routes.add_row(route, str(n), str(report.routes_after.get(route, 0)))
    out.print(routes)
    for transition, n in report.transitions.items():
        out.print(f"  {transition}: {n}")
    for example in report.examples:
        out.print(f"  {example.before} -> {example.after}: {escape(example.text[:80])}")
    out.print(f"cases: {report.cases_before} recorded, {report.cases_after} with the candidate")
    for step, n in report.strike_steps_after.items():
        was = report.strike_steps_before.get(step, 0)
        out.print(f"strike step {step}: {was} members recorded, {n} with the candidate")
    out.print(
        f"frontier calls: {report.frontier_calls}, about {report.frontier_cost:.4f} "
        f"{report.frontier_currency}"
    )
    for category, agreement in report.moderators.items():
        out.print(
            f"moderators' {category} decisions ({agreement.labelled}): candidate precision "
            f"{agreement.precision:.2f}, recall {agreement.recall:.2f}"
        )
