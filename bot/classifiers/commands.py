"""CLI: ``modtriage eval moderation``, and ``modtriage train`` (``train_command.py``).

Mounted in ``bot/cli.py``::

    from bot.classifiers import commands as classifier_commands
    app.command("train")(classifier_commands.train)
    app.add_typer(classifier_commands.eval_app, name="eval")
"""

from __future__ import annotations

import asyncio
import json
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.table import Table

from bot.classifiers.base import Classifier
from bot.classifiers.dataset import ModerationRow, read_rows
from bot.classifiers.evaluation import (
    EvalReport,
    JudgeScore,
    evaluate,
    evaluate_judge,
    source_reference,
)
from bot.classifiers.train_command import train
from bot.errors import ConfigError
from bot.message import MAX_TEXT_CHARS, Author, Message
from bot.policy import Policy, load_policy
from bot.progress import Advance, progress_bar
from bot.settings import Settings, load_settings
from bot.terminal import fail
from bot.verdict import Route

__all__ = ["eval_app", "eval_moderation", "train"]

eval_app = typer.Typer(help="Measure models on labelled data.", no_args_is_help=True)

PolicyOption = Annotated[
    Path | None, typer.Option("--policy", help="policy YAML (default: MODTRIAGE_POLICY)")
]
JsonOption = Annotated[bool, typer.Option("--json", help="print one JSON object")]
PlotOption = Annotated[
    Path | None,
    typer.Option(
        "--plot",
        help="also draw precision and recall over thresholds, the policy's marked, as PNG",
    ),
]


def _policy(path: Path | None, settings: Settings) -> Policy:
    return load_policy(path or settings.policy)


async def _score(
    rows: list[ModerationRow], settings: Settings, policy: Policy
) -> tuple[list[dict[str, float]], float, list[float], JudgeScore]:
    """The model's scores alone (with throughput and latency), then the whole judge's."""
    from bot.classifiers import build_classifier

    classifier = build_classifier(settings, policy)
    scores: list[dict[str, float]] = []
    latencies: list[float] = []
    started = time.perf_counter()
    with progress_bar("model", len(rows)) as advance:
        for i in range(0, len(rows), settings.batch_size):
            chunk = rows[i : i + settings.batch_size]
            t0 = time.perf_counter()
            results = await classifier.classify([r.text for r in chunk])
            elapsed_ms = (time.perf_counter() - t0) * 1000
            latencies += [elapsed_ms] * len(chunk)
            scores += [dict(r.scores) for r in results]
            advance(len(chunk))
    seconds = time.perf_counter() - started
    with progress_bar("whole judge", len(rows)) as advance:
        judged = await _judge(rows, settings, policy, classifier, advance)
    return scores, seconds, latencies, judged


def _as_message(n: int, text: str, at: datetime) -> Message:
    """Row ``n`` as a message of its own author (so no rate rule links two rows)."""
    return Message(
        platform="console",
        workspace="eval",
        channel="eval",
        id=f"row{n}",
        author=Author(id=f"eval-{n}"),
        text=text[:MAX_TEXT_CHARS],
        ts=at,
    )


async def _judge(
    rows: list[ModerationRow],
    settings: Settings,
    policy: Policy,
    classifier: Classifier,
    advance: Advance,
) -> JudgeScore:
    """Each row as a message of its own author, through the preview judge (no rate counters,
    nothing leaves the machine; FAQ answers do not change a route and are left out)."""
    from bot.pipeline.judge import build_judge

    quiet = policy.model_copy(update={"faq": policy.faq.model_copy(update={"file": None})})
    judge = build_judge(policy=quiet, classifier=classifier, settings=settings)
    at = datetime.now(UTC)
    verdicts: list[tuple[Route, frozenset[str], str]] = []
    try:
        for i in range(0, len(rows), settings.batch_size):
            chunk = rows[i : i + settings.batch_size]
            messages = [_as_message(i + n, row.text, at) for n, row in enumerate(chunk)]
            for item in await judge.judge(messages):
                verdict = item.verdict
                assert verdict is not None  # the decide stage always gives one
                held = frozenset(e.category for e in verdict.evidence if e.route is not Route.ALLOW)
                verdicts.append((verdict.route, held, verdict.stage))
            advance(len(chunk))
    finally:
        await judge.aclose()
    return evaluate_judge(rows, verdicts, policy)


def eval_moderation(
    file: Annotated[Path, typer.Argument(help="moderation JSONL (DESIGN.md format)")],
    policy: PolicyOption = None,
    backend: Annotated[
        str | None, typer.Option(help="classifier: embedded or rules (default: settings)")
    ] = None,
    as_json: JsonOption = False,
    plot: PlotOption = None,
) -> None:
    """Measure the moderation model on labelled rows.

    Precision, recall, F1 and AUPRC of the flagged decision and per category, routing
    shares, throughput and latency. A message's latency is the time of the batch it ran in.
    """
    try:
        settings = load_settings()
        if backend:
            settings = Settings.model_validate({**settings.model_dump(), "classifier": backend})
    except ValidationError as exc:  # an unknown backend name
        raise fail(f"--backend: {exc.errors()[0]['msg']}") from exc
    try:
        loaded = _policy(policy, settings)
        rows = read_rows(file)
        scores, seconds, latencies, judged = asyncio.run(_score(rows, settings, loaded))
    except ConfigError as exc:
        raise fail(str(exc)) from exc
    report = evaluate(
        rows, scores, loaded, dataset=file.name, seconds=seconds, latencies_ms=latencies
    ).model_copy(update={"judge": judged})
    loso_file = settings.encoder_dir / "loso.json"
    if settings.classifier == "embedded" and loso_file.is_file():
        found = source_reference(rows, json.loads(loso_file.read_text(encoding="utf-8-sig")))
        report = report.model_copy(update={"reference": found})
    if plot is not None:
        _plot(rows, scores, loaded, report, plot)
    if as_json:
        typer.echo(report.model_dump_json())
        return
    _print_report(report)


def _plot(
    rows: list[ModerationRow],
    scores: list[dict[str, float]],
    policy: Policy,
    report: EvalReport,
    out: Path,
) -> None:
    from bot import plots

    title = f"{report.dataset} ({report.n} rows), policy {policy.name}"
    try:
        plots.save(plots.moderation_figure(rows, scores, policy, title=title), out)
    except ConfigError as exc:
        raise fail(str(exc)) from exc
    Console(stderr=True, highlight=False).print(f"wrote {out}")


eval_app.command("moderation")(eval_moderation)


def _print_report(report: EvalReport) -> None:
    console = Console()
    f = report.flagged
    console.print(
        f"[bold]{report.dataset}[/bold]: {report.n} rows — flagged P {f.precision:.3f} "
        f"R {f.recall:.3f} F1 {f.f1:.3f} AUPRC {f.auprc:.3f}"
    )
    table = Table(title="per category")
    for column in ("category", "positives", "precision", "recall", "F1", "AUPRC"):
        table.add_column(column, justify="left" if column == "category" else "right")
    for name, c in report.categories.items():
        table.add_row(
            name,
            str(c.n_pos),
            f"{c.precision:.3f}",
            f"{c.recall:.3f}",
            f"{c.f1:.3f}",
            f"{c.auprc:.3f}",
        )
    console.print(table)
    if report.functionalities:
        ft = Table(title="functionalities")
        ft.add_column("functionality")
        ft.add_column("n", justify="right")
        ft.add_column("accuracy", justify="right")
        for name, s in report.functionalities.items():
            ft.add_row(name, str(s.n), f"{s.accuracy:.3f}")
        console.print(ft)
    if report.reference is not None:
        ref = report.reference
        frozen = (
            f" (frozen stock encoder: {ref.frozen_out_of_source_f1:.3f})"
            if ref.frozen_out_of_source_f1 is not None
            else ""
        )
        console.print(
            f"[yellow]the model was trained on this source ({ref.file}):[/yellow] these "
            "figures are in-source. Leave-source-out flagged F1, from a model that never saw "
            f"it: {ref.out_of_source_f1:.3f}{frozen}"
        )
    routing = ", ".join(f"{k} {v:.1%}" for k, v in report.routing.items())
    console.print(f"routing: {routing}")
    if report.judge is not None:
        j = report.judge
        by = ", ".join(f"{k} {v:.0%}" for k, v in j.decided_by.items()) or "none flagged"
        console.print(
            f"whole judge (rules + model + decide): flagged P {j.precision:.3f} R {j.recall:.3f} "
            f"F1 {j.f1:.3f}; flagged decided by {by}"
        )
    console.print(
        f"throughput {report.throughput_msgs_per_s:.1f} msg/s, latency p50 "
        f"{report.latency_ms.p50:.1f} ms, p99 {report.latency_ms.p99:.1f} ms"
    )
