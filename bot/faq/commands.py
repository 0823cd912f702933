"""Moderators' FAQ commands and ``modtriage eval faq``.

Mount in ``bot/cli.py``::

    from bot.faq import commands as faq_commands
    app.add_typer(faq_commands.app, name="faq")
    eval_app.command("faq")(faq_commands.eval_faq)      # next to `eval moderation`

which gives::

    modtriage faq list [--faqs F] [--feedback] [--json]
    modtriage faq add ID -q "question" [-q ...] --answer "approved text" [--faqs F]
    modtriage faq test "how do I ...?" [--faqs F] [--json]   top three, scores, decision
    modtriage faq channel C123 on|off|policy                  per-channel switch (Redis)
    modtriage faq suggest [--days N] / suggest accept ID      entries from repeated questions
                                                              (bot.faq.suggest_commands)
    modtriage eval faq FILE.jsonl --faqs FAQS.yaml [--json] [--curve]

and ``faq train`` (:mod:`bot.faq.train_command`), mounted beside them.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Coroutine
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from bot.errors import ConfigError, ModtriageError
from bot.faq.entries import FaqEntry, FaqFile, append_entry, load_faqs
from bot.faq.evaluation import curve, evaluate, read_faq_rows, report_json
from bot.faq.matcher import FaqMatcher
from bot.faq.questions import looks_like_question
from bot.faq.suggest_commands import app as suggest_app
from bot.faq.trained import build_faq_matcher, find_trained
from bot.policy import FaqSettings, Policy, load_policy
from bot.progress import progress_bar
from bot.settings import Settings, load_settings
from bot.tenant import Tenant, named_tenant
from bot.terminal import fail

__all__ = ["app", "eval_faq"]

T = TypeVar("T")

app = typer.Typer(help="FAQ answers from approved text.", no_args_is_help=True)
app.add_typer(suggest_app, name="suggest")

FaqsOption = Annotated[
    Path | None,
    typer.Option("--faqs", help="FAQ YAML (default: the policy's faq.file)"),
]
PolicyOption = Annotated[
    Path | None, typer.Option("--policy", help="policy YAML (default: MODTRIAGE_POLICY)")
]
JsonOption = Annotated[bool, typer.Option("--json", help="print one JSON object")]


def _run(coro: Coroutine[Any, Any, T]) -> T:
    try:
        return asyncio.run(coro)
    except ModtriageError as exc:
        raise fail(str(exc)) from exc


def _policy(path: Path | None, settings: Settings) -> Policy:
    return load_policy(path or settings.policy)


def _faq_path(faqs: Path | None, policy_path: Path | None, settings: Settings) -> Path:
    if faqs is not None:
        return faqs
    policy = _policy(policy_path, settings)
    if policy.faq.file is None:
        raise ConfigError("the policy has no faq.file; add faq: {file: faq.yaml} or pass --faqs")
    return policy.faq.file


def _matcher(faqs: FaqFile, settings: Settings, thresholds: FaqSettings | None) -> FaqMatcher:
    """The trained matcher of this FAQ file when there is one, else the closed-form one."""
    from bot.classifiers import build_faq_encoder

    return build_faq_matcher(
        faqs=faqs,
        data_dir=settings.data_dir,
        encoder=lambda: build_faq_encoder(settings),
        thresholds=thresholds,
        threads=settings.encoder_threads,
    )


def _thresholds(
    faqs_given: bool, policy_path: Path | None, settings: Settings
) -> FaqSettings | None:
    """The policy's thresholds when the FAQ comes from the policy, else None (the defaults)."""
    if faqs_given and policy_path is None:
        return None
    return _policy(policy_path, settings).faq


@app.command("list")
def list_faqs(
    faqs: FaqsOption = None,
    policy: PolicyOption = None,
    feedback: Annotated[
        bool, typer.Option("--feedback", help="add helpful / not helpful votes from Redis")
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """The entries of the FAQ.

    Id, example questions and answer of each, and the votes with --feedback.
    """
    settings = load_settings()
    try:
        loaded = load_faqs(_faq_path(faqs, policy, settings))
    except ConfigError as exc:
        raise fail(str(exc)) from exc
    votes: dict[str, Any] = {}
    if feedback:
        votes = _run(_feedback_counts(settings))
    if as_json:
        entries = [
            {**e.model_dump(mode="json"), **({"feedback": votes[e.id]} if e.id in votes else {})}
            for e in loaded.faqs
        ]
        typer.echo(json.dumps({"file": loaded.path, "version": loaded.version, "faqs": entries}))
        return
    table = Table(title=f"{loaded.path} ({len(loaded.faqs)} entries, version {loaded.version})")
    table.add_column("id")
    table.add_column("questions", justify="right")
    table.add_column("answer")
    if feedback:
        table.add_column("helpful / not", justify="right")
    for entry in loaded.faqs:
        answer = entry.answer if len(entry.answer) <= 60 else entry.answer[:59] + "…"
        row = [entry.id, str(len(entry.questions)), escape(answer)]
        if feedback:
            count = votes.get(entry.id, {"helpful": 0, "not_helpful": 0})
            row.append(f"{count['helpful']} / {count['not_helpful']}")
        table.add_row(*row)
    Console(highlight=False).print(table)


async def _feedback_counts(settings: Settings) -> dict[str, Any]:
    from bot.connection import connect
    from bot.faq.feedback import FaqFeedback

    async with connect(settings) as redis:
        streams = settings.streams()
        counts = await FaqFeedback(redis=redis, streams=streams).counts()
    return {k: v.model_dump() for k, v in counts.items()}


@app.command("add")
def add(
    faq_id: Annotated[str, typer.Argument(metavar="ID", help="new entry id, e.g. reset_password")],
    question: Annotated[
        list[str], typer.Option("--question", "-q", help="an example question (repeat)")
    ],
    answer: Annotated[str, typer.Option(help="the approved answer text")],
    faqs: FaqsOption = None,
    policy: PolicyOption = None,
) -> None:
    """Add an entry to the FAQ file.

    Comments and layout are kept; the file is validated before it is written.
    """
    settings = load_settings()
    try:
        path = _faq_path(faqs, policy, settings)
        entry = FaqEntry(id=faq_id, questions=tuple(question), answer=answer)
    except ConfigError as exc:
        raise fail(str(exc)) from exc
    except ValueError as exc:
        raise fail(str(exc)) from exc
    try:
        before = load_faqs(path)
        updated = append_entry(path, entry)
        trained = find_trained(settings.data_dir, before)
    except ConfigError as exc:
        raise fail(str(exc)) from exc
    typer.echo(f"added {faq_id} to {path} ({len(updated.faqs)} entries, version {updated.version})")
    if trained is not None:
        typer.echo(
            f"retraining is due: the trained matcher (trained:{before.version}) was fitted on "
            "the file before this entry, so the closed-form matcher answers until "
            "`modtriage faq train` runs again"
        )


@app.command("test")
def try_question(
    question: Annotated[str, typer.Argument(help="a question as a member would ask it")],
    faqs: FaqsOption = None,
    policy: PolicyOption = None,
    as_json: JsonOption = False,
) -> None:
    """Show the entries a question matches, and the decision.

    The top three entries, their scores, and whether the bot would answer.
    """
    settings = load_settings()
    try:
        path = _faq_path(faqs, policy, settings)
        loaded = load_faqs(path)
        thresholds = _thresholds(faqs is not None, policy, settings)
        matcher = _matcher(loaded, settings, thresholds)
    except ConfigError as exc:
        raise fail(str(exc)) from exc
    decision = _run(matcher.match([question]))[0]
    asks = looks_like_question(question)
    if as_json:
        out = {"question": question, "looks_like_question": asks, **decision.model_dump()}
        typer.echo(json.dumps(out))
        return
    console = Console(highlight=False)
    table = Table(title=f"{escape(question)!r}")
    table.add_column("#", justify="right")
    table.add_column("entry")
    table.add_column("similarity", justify="right")
    table.add_column("confidence", justify="right")
    for rank, candidate in enumerate(decision.candidates, start=1):
        table.add_row(
            str(rank),
            candidate.faq_id,
            f"{candidate.similarity:.3f}",
            f"{candidate.confidence:.3f}",
        )
    console.print(table)
    console.print(f"looks like a question: {'yes' if asks else 'no (the bot would stay silent)'}")
    console.print(f"decision: {escape(decision.reason)}")
    if decision.faq_id is not None:
        console.print(f"answer: {escape(loaded.entry(decision.faq_id).answer)}")


@app.command("channel")
def channel(
    channel_id: Annotated[str, typer.Argument(metavar="CHANNEL", help="channel id")],
    state: Annotated[
        Literal["on", "off", "policy"],
        typer.Argument(help="on, off, or policy (drop the switch, follow the policy)"),
    ],
    workspace: Annotated[
        str | None,
        typer.Option(
            "--workspace",
            help="the tenant: slack:T0123 or discord:<guild id>; default the only one served",
        ),
    ] = None,
) -> None:
    """Switch FAQ answers on or off in one channel.

    In one channel of a workspace, for every worker at once.
    """
    settings = load_settings()
    try:
        tenant = named_tenant(workspace, settings.tenants)
    except ConfigError as exc:
        raise fail(str(exc)) from exc
    _run(_switch(settings, tenant, channel_id, {"on": True, "off": False, "policy": None}[state]))
    typer.echo(f"faq answers in {tenant} #{channel_id}: {state}")


async def _switch(settings: Settings, tenant: Tenant, channel_id: str, on: bool | None) -> None:
    from bot.connection import connect
    from bot.faq.channels import FaqChannels

    async with connect(settings) as redis:
        streams = settings.streams()
        await FaqChannels(redis=redis, streams=streams).switch(tenant, channel_id, on)


def eval_faq(
    file: Annotated[Path, typer.Argument(help='JSONL rows {"text", "faq": id | null, "source"}')],
    faqs: FaqsOption = None,
    policy: PolicyOption = None,
    as_json: JsonOption = False,
    batch_size: Annotated[int, typer.Option(min=1, help="messages per encoder call")] = 32,
    questions_only: Annotated[
        bool,
        typer.Option("--questions-only", help="hand off rows the question test rejects"),
    ] = False,
    show_curve: Annotated[
        bool, typer.Option("--curve", help="also print the precision/coverage trade-off")
    ] = False,
    plot: Annotated[
        Path | None,
        typer.Option("--plot", help="also draw that trade-off as PNG, the threshold in use marked"),
    ] = None,
) -> None:
    """Measure FAQ answers on labelled rows.

    Precision of the answers, coverage and hand-offs.
    """
    settings = load_settings()
    try:
        loaded = load_faqs(_faq_path(faqs, policy, settings))
        thresholds = _thresholds(faqs is not None, policy, settings)
        rows = read_faq_rows(file)
        matcher = _matcher(loaded, settings, thresholds)
        match = matcher.settings
    except ConfigError as exc:
        raise fail(str(exc)) from exc
    with progress_bar("matching", len(rows)) as advance:
        report, decisions = _run(
            evaluate(
                rows,
                matcher,
                dataset=file.name,
                batch_size=batch_size,
                questions_only=questions_only,
                advance=advance,
            )
        )
    floor = matcher.index.min_similarity if matcher.index else 0.0
    if plot is not None:
        from bot import plots

        title = f"{report.dataset}: {report.n} rows, FAQ {Path(loaded.path).name}"
        try:
            figure = plots.faq_figure(
                rows,
                decisions,
                min_similarity=floor,
                min_confidence=match.min_confidence,
                title=title,
            )
            plots.save(figure, plot)
        except ConfigError as exc:
            raise fail(str(exc)) from exc
        Console(stderr=True, highlight=False).print(f"wrote {plot}")
    if as_json:
        typer.echo(report_json(report))
        return
    console = Console(highlight=False)
    table = Table(title=f"{report.dataset}: {report.n} rows, FAQ {loaded.path}")
    table.add_column("measure")
    table.add_column("value", justify="right")
    for key in ("in_scope_accuracy", "answered_precision", "in_scope_coverage", "oos_recall"):
        table.add_row(key, f"{getattr(report, key):.3f}")
    table.add_row("throughput (msg/s)", f"{report.throughput_msgs_per_s:.1f}")
    table.add_row("latency p50 / p99 (ms)", f"{report.latency_ms.p50} / {report.latency_ms.p99}")
    console.print(table)
    console.print(
        f"thresholds: min_similarity {floor:.3f}"
        + (" (calibrated on the FAQ file)" if match.min_similarity is None else "")
        + f", min_confidence {match.min_confidence}"
    )
    if show_curve:
        trade = Table(title="trade-off: one threshold moves, the other stays")
        for column in ("min_similarity", "min_confidence", "precision", "coverage", "oos_recall"):
            trade.add_column(column, justify="right")
        for p in curve(rows, decisions, floor, match.min_confidence):
            trade.add_row(
                f"{p.min_similarity:.3f}",
                f"{p.min_confidence:.3f}",
                f"{p.answered_precision:.3f}",
                f"{p.in_scope_coverage:.3f}",
                f"{p.oos_recall:.3f}",
            )
        console.print(trade)
