"""``modtriage escalation ...``: commands about the frontier model (mounted by bot/cli.py)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError
from rich.console import Console

from bot.classifiers import build_classifier
from bot.classifiers.dataset import require_data
from bot.errors import ConfigError
from bot.escalation.estimate import estimate_escalation, validation_rows
from bot.policy import load_policy
from bot.settings import Settings, load_settings
from bot.terminal import fail

__all__ = ["app"]

app = typer.Typer(help="Escalation to the frontier model: cost and volume.", no_args_is_help=True)


@app.callback()
def escalation() -> None:
    """Escalation to the frontier model: cost and volume."""


@app.command()
def estimate(
    data: Annotated[
        Path, typer.Option(help="the training data folder (moderation/*.jsonl)")
    ] = Path("../shared/data"),
    classifier: Annotated[
        str | None, typer.Option(help="the small model (default: MODTRIAGE_CLASSIFIER)")
    ] = None,
    limit: Annotated[int, typer.Option(help="at most this many rows (0: all)")] = 0,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
) -> None:
    """Estimate the share escalated and its cost; sends nothing.

    The share of messages escalated at the policy's thresholds, and the cost per 1,000
    messages against sending every message to the frontier model.
    """
    try:
        settings = load_settings()
        if classifier:
            settings = Settings.model_validate({**settings.model_dump(), "classifier": classifier})
    except ValidationError as exc:
        raise fail(f"--classifier: {exc.errors()[0]['msg']}") from exc
    try:
        rows = list(validation_rows(require_data(data)))
        policy = load_policy(settings.policy)
        model = build_classifier(settings, policy)
    except ConfigError as exc:
        raise fail(str(exc)) from exc
    if limit:
        rows = rows[:limit]
    report = asyncio.run(
        estimate_escalation(rows=rows, classifier=model, policy=policy, settings=settings)
    )
    if as_json:
        typer.echo(json.dumps(report.model_dump(), indent=2))
        return
    console = Console(highlight=False)
    ratio = f"{report.ratio:.1f}x cheaper" if report.ratio else "nothing escalated"
    console.print(
        f"{report.rows} validation rows, small model {report.classifier}, "
        f"frontier {report.model}\n"
        f"escalated: {report.escalated} ({report.escalated_share:.2%}), "
        f"of flagged rows {report.escalated_share_of_flagged}, of clean rows "
        f"{report.escalated_share_of_clean}; cache hits {report.cache_hits}\n"
        f"by category {report.escalated_by_category}\n"
        f"routes: {report.routes}\n"
        f"cost per 1,000 messages: {report.cost_per_1000_escalating:.4f} {report.currency} "
        f"escalating vs {report.cost_per_1000_all_frontier:.4f} {report.currency} all to the "
        f"frontier ({ratio})"
    )
