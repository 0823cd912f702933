"""``modtriage partitions show|set|keda`` (mounted in ``bot/cli.py``): the stream partitions of
a namespace (:mod:`bot.partitions`, :mod:`bot.repartition`)."""

from __future__ import annotations

import asyncio
import json
from typing import Annotated

import typer
import yaml
from rich.console import Console
from rich.table import Table

from bot.errors import ModtriageError
from bot.settings import Settings
from bot.terminal import fail

__all__ = ["app"]

app = typer.Typer(
    help="Stream partitions: how tenants are spread over Redis.", no_args_is_help=True
)


@app.command()
def show(
    as_json: Annotated[bool, typer.Option("--json", help="print one JSON object")] = False,
) -> None:
    """What each partition has waiting.

    With the partition count MODTRIAGE_PARTITIONS names and the one the namespace records."""
    from bot.connection import connect
    from bot.partitions import backlogs, recorded_partitions

    settings = Settings()
    streams = settings.streams()

    async def read() -> tuple[int | None, list[dict[str, object]]]:
        async with connect(settings) as redis:
            recorded = await recorded_partitions(redis, streams)
            parts = await backlogs(redis, streams)
        return recorded, [b.model_dump() | {"drained": b.drained} for b in parts]

    try:
        recorded, parts = asyncio.run(read())
    except ModtriageError as exc:
        raise fail(str(exc), 2) from exc
    report = {"configured": streams.partitions, "recorded": recorded, "partitions": parts}
    if as_json:
        typer.echo(json.dumps(report))
        return
    out = Console(highlight=False)
    out.print(f"MODTRIAGE_PARTITIONS={streams.partitions}; the namespace records {recorded}")
    table = Table()
    for column in ("partition", "messages waiting", "actions waiting", "held", "drained"):
        table.add_column(column, justify="right")
    for part in parts:
        table.add_row(*(str(part[k]) for k in ("partition", "ingest_waiting", "actions_waiting",
                                               "held", "drained")))  # fmt: skip
    out.print(table)


@app.command("set")
def set_partitions(
    partitions: Annotated[int, typer.Argument(min=1, max=1024, help="the new count")],
) -> None:
    """Switch the namespace to PARTITIONS partitions.

    Stop the adapters and let the workers and dispatchers drain first; then restart
    everything with MODTRIAGE_PARTITIONS set to it. Refuses while anything waits, and changes
    nothing then."""
    from bot.connection import connect
    from bot.repartition import repartition

    settings = Settings()

    async def switch() -> str:
        async with connect(settings) as redis:
            done = await repartition(redis, settings.streams(), partitions)
        return done.model_dump_json()

    try:
        typer.echo(asyncio.run(switch()))
    except ModtriageError as exc:
        raise fail(str(exc), 2) from exc


@app.command()
def keda(
    lag: Annotated[int, typer.Option(min=1, help="target lag per worker replica")] = 500,
) -> None:
    """The KEDA patch that scales workers on every partition's lag.

    One redis-cluster-streams trigger a partition of MODTRIAGE_PARTITIONS, added up: a
    kustomize patch of deploy/k8s/base's ScaledObject (deploy/k8s/overlays/cluster has P = 8)."""
    from bot.partitions import keda_triggers

    spec = keda_triggers(Settings().streams(), lag_per_worker=lag)
    patch = {
        "apiVersion": "keda.sh/v1alpha1",
        "kind": "ScaledObject",
        "metadata": {"name": "modtriage-worker"},
        "spec": spec,
    }
    typer.echo(_GENERATED + yaml.safe_dump(patch, sort_keys=False), nl=False)


_GENERATED = "# Written by `modtriage partitions keda` (MODTRIAGE_PARTITIONS set): do not edit.\n"
