"""CLI: ``modtriage train`` (mounted in ``bot/cli.py`` through ``bot.classifiers.commands``).

The new heads are validated beside the heads the bot uses now, on the same held-out rows, and
written where the bot loads them only when they are not worse: flagged F1 on all validation
rows together (:attr:`TrainResult.worse_than_baseline`), unless ``--force``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from bot.classifiers import onnx_encoder
from bot.classifiers.calibration import read_calibration
from bot.classifiers.dataset import require_data
from bot.classifiers.embedded import find_heads
from bot.classifiers.evaluation import EvalReport
from bot.classifiers.heads import Heads, TrainConfig
from bot.classifiers.training import TrainResult, train_heads
from bot.classifiers.training_rows import NO_PUBLIC, collect_rows
from bot.errors import ConfigError
from bot.policy import Policy, load_policy
from bot.progress import progress_bar
from bot.settings import Settings, load_settings
from bot.terminal import console, fail

__all__ = ["DEFAULT_DATA", "train"]

#: Where the project keeps the public data, beside the checkout (not in the repo).
DEFAULT_DATA = Path("../shared/data")


def train(
    policy: Annotated[
        Path | None, typer.Option("--policy", help="policy YAML (default: MODTRIAGE_POLICY)")
    ] = None,
    data: Annotated[
        Path, typer.Option(help="the folder that holds moderation/*.jsonl, the public data")
    ] = DEFAULT_DATA,
    no_public: Annotated[
        bool, typer.Option("--no-public", help="train on the policy's and the written rows only")
    ] = False,
    out: Annotated[
        Path | None,
        typer.Option(help="where to write the heads (default: where the bot loads them)"),
    ] = None,
    hidden: Annotated[int, typer.Option(help="hidden units (0: logistic heads)")] = 256,
    epochs: Annotated[int, typer.Option(min=1, help="passes over the training rows")] = 30,
    weight_decay: Annotated[
        float,
        typer.Option(min=0.0, help="L2 on the head weights (data card: 0.01 against the default)"),
    ] = TrainConfig().weight_decay,
    seed: Annotated[int, typer.Option(help="seed of the fit and the splits")] = 0,
    threads: Annotated[int, typer.Option(min=1, help="encoder threads")] = 2,
    calibration: Annotated[
        Path | None,
        typer.Option(help="isotonic maps fitted out of source (tools/loso.py) to use"),
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help="replace the heads in use even if these are worse")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="print one JSON object")] = False,
) -> None:
    """Fit, calibrate and validate the moderation heads for a policy.

    The heads go to <data_dir>/heads/<policy name>, which the bot loads from then on; they are
    validated beside the heads in use on the same held-out rows and not written there when
    their flagged F1 on all of those rows is lower, unless --force.
    Public data embeddings are cached under the data dir: the first run embeds about 75,000
    rows (about 4 minutes on two cores), a retrain after a policy edit about 20 seconds, and
    --no-public seconds.
    """
    try:
        settings = load_settings()
        loaded = load_policy(policy or settings.policy)
        public = None if no_public else require_data(data, otherwise=NO_PUBLIC)
        encoder = onnx_encoder(settings, threads=threads)
        in_use = find_heads(loaded, settings.data_dir, settings.heads)
        config = TrainConfig(hidden=hidden, epochs=epochs, weight_decay=weight_decay, seed=seed)
        rows = collect_rows(
            loaded, public, seed=config.seed, max_rows_per_file=config.max_rows_per_file
        )
        with progress_bar("embedding training rows", len(rows)) as advance:
            result = train_heads(
                loaded,
                encoder=encoder,
                data_dir=public,
                cache_dir=settings.data_dir / "embeddings",
                config=config,
                rows=rows,
                calibration=read_calibration(calibration) if calibration else None,
                baseline=_readable(in_use),
                advance=advance,
            )
    except ConfigError as exc:
        raise fail(str(exc)) from exc
    stem = out or settings.data_dir / "heads" / loaded.name
    refused = _replaces(stem, in_use, settings, loaded) and result.worse_than_baseline
    written = not refused or force
    report = _report(result, stem=stem, in_use=in_use, written=written)
    if written:
        result.heads.save(stem)
        stem.with_suffix(".report.json").write_text(json.dumps(report, indent=1) + "\n")
    if as_json:
        typer.echo(json.dumps(report))
    else:
        _print(result, in_use=in_use)
    if not written:
        raise fail(
            f"not writing {stem}: these heads validate worse than the ones in use (flagged F1 "
            f"{_f1(result.overall)} < {_f1(result.baseline_overall)}); pass --force to use "
            "them anyway, or --out to write them elsewhere"
        )
    if not as_json:
        console().print(f"wrote {stem}.npz/.json in {result.seconds:.1f}s")


def _readable(stem: Path) -> Heads | None:
    """The heads at ``stem``, or None when they cannot be read (they are being replaced)."""
    try:
        return Heads.load(stem)
    except ConfigError:
        return None


def _replaces(stem: Path, in_use: Path, settings: Settings, policy: Policy) -> bool:
    """Whether the bot loads ``stem`` now or, once written, from its next start."""
    loads_next = settings.heads is None and stem == settings.data_dir / "heads" / policy.name
    return loads_next or stem.resolve() == in_use.resolve()


def _report(result: TrainResult, *, stem: Path, in_use: Path, written: bool) -> dict[str, Any]:
    """What ``--json`` prints and ``<stem>.report.json`` keeps."""
    baseline = result.baseline
    return {
        "heads": str(stem),
        "written": written,
        "revision": result.heads.revision,
        "seconds": round(result.seconds, 1),
        "rows": result.rows,
        "validation": {k: v.model_dump(mode="json") for k, v in result.validation.items()},
        "overall": _dump(result.overall),
        "in_use": {
            "heads": str(in_use),
            "overall": _dump(result.baseline_overall),
            "validation": (
                {k: v.model_dump(mode="json") for k, v in baseline.items()} if baseline else None
            ),
        },
        "uncalibrated": [c for c, card in result.heads.cards.items() if card.calibration is None],
        "hard_negatives": (
            result.hard_negatives.model_dump(mode="json") if result.hard_negatives else None
        ),
        "perturbations": (
            result.perturbations.model_dump(mode="json") if result.perturbations else None
        ),
    }


def _dump(report: EvalReport | None) -> dict[str, Any] | None:
    return report.model_dump(mode="json") if report is not None else None


def _f1(report: EvalReport | None) -> str:
    return "-" if report is None else f"{report.flagged.f1:.3f}"


def _row(name: str, rep: EvalReport, old: EvalReport | None) -> tuple[str, ...]:
    share = 1 - rep.routing.get("allow", 0.0)
    f = rep.flagged
    return (
        name,
        str(rep.n),
        f"{f.precision:.3f}",
        f"{f.recall:.3f}",
        f"{f.f1:.3f}",
        f"{f.auprc:.3f}",
        f"{share:.1%}",
        _f1(old),
    )


def _print(result: TrainResult, *, in_use: Path) -> None:
    out = console()
    table = Table(title=f"validation (held-out rows) — heads {result.heads.revision}")
    for column in ("source", "n", "flagged P", "R", "F1", "AUPRC", "flagged share", "in use F1"):
        table.add_column(
            column, justify="left" if column == "source" else "right", no_wrap=column == "source"
        )
    baseline = result.baseline or {}
    for source, rep in result.validation.items():
        table.add_row(*_row(source, rep, baseline.get(source)))
    if result.overall is not None:
        table.add_section()
        table.add_row(*_row("all", result.overall, result.baseline_overall), style="bold")
    out.print(table)
    out.print(
        f"flagged F1 on all validation rows: {_f1(result.overall)} these heads, "
        f"{_f1(result.baseline_overall)} the heads in use ({in_use})"
    )
    uncalibrated = [c for c, card in result.heads.cards.items() if card.calibration is None]
    if uncalibrated:
        out.print(
            "[yellow]not calibrated (too few held-out rows):[/yellow] " + ", ".join(uncalibrated)
        )
    if result.hard_negatives:
        hard = result.hard_negatives
        out.print(
            "hard negatives (neutral group mentions, counter-speech, reports, negation, "
            f"reclaimed terms) flagged as {hard.category}: "
            f"{hard.flagged}/{hard.n} = {hard.rate:.1%}"
        )
    if result.perturbations and result.perturbations.n:
        pert = result.perturbations
        out.print(
            "DynaHate test perturbations that are not hateful, flagged as hate: "
            f"{pert.flagged}/{pert.n} = {pert.rate:.1%}"
        )
