"""The ``modtriage`` command line."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.markup import escape

from bot.classifiers import Classifier, build_classifier
from bot.connection import connect
from bot.errors import ConfigError, MalformedMessage, StoreUnavailable
from bot.health import Health, redis_check
from bot.logs import configure_logging
from bot.message import Author, Message
from bot.metrics import Metrics
from bot.policy import Policy, load_policy
from bot.settings import Settings, load_settings
from bot.terminal import console, fail
from bot.urls import mask_url

__all__ = ["app", "main"]

app = typer.Typer(
    name="modtriage",
    help="Moderation and triage for Slack and Discord: a small local model first.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)
T = TypeVar("T")

#: The sample conversation, package data so ``modtriage run`` works wherever it is installed.
EXAMPLE = Path(__file__).resolve().parent / "examples" / "conversation.jsonl"


_console = console  # the names this module's commands use
_err = fail


def _settings(**overrides: Any) -> Settings:
    try:
        settings = load_settings(**overrides)
    except ConfigError as exc:
        raise _err(str(exc), 2) from exc
    configure_logging(level=settings.log_level, json=settings.log_format == "json")
    return settings


def _policy(settings: Settings) -> Policy:
    try:
        return load_policy(settings.policy)
    except ConfigError as exc:
        raise _err(str(exc), 2) from exc


def _run(coro: Coroutine[Any, Any, T]) -> T:
    try:
        return asyncio.run(coro)
    except StoreUnavailable as exc:
        raise _err(f"{exc}. Set REDIS_URL to a reachable Redis 6.2+, or unset it.", 3) from exc
    except ConfigError as exc:
        raise _err(str(exc), 2) from exc
    except MalformedMessage as exc:
        raise _err(str(exc), 2) from exc


@app.command()
def run(
    conversation: Annotated[
        Path, typer.Option(help="JSONL conversation to replay", exists=True, dir_okay=False)
    ] = EXAMPLE,
    stdin: Annotated[bool, typer.Option("--stdin", help="moderate lines typed here")] = False,
) -> None:
    """Moderate Slack and Discord, or a conversation here.

    Serves Slack and Discord when their tokens are set; else replays a conversation (the
    example by default) or the lines typed with --stdin through the full pipeline.
    """
    from bot.adapters.console import read_conversation, typed_messages
    from bot.replay import Replay
    from bot.serve import platforms

    settings = _settings()
    policy = _policy(settings)
    out = _console()
    if platforms(settings) and not stdin:
        _serve(settings, policy)
        return

    async def main() -> int:
        classifier = build_classifier(settings, policy)
        where = mask_url(settings.redis_url or "") or f"embedded Redis in {settings.data_dir}/"
        out.print(
            f"[bold]modtriage[/] · policy [cyan]{policy.name}[/] ({policy.version}) · "
            f"{escape(where)}\nclassifier [cyan]{classifier.name}[/]"
        )
        async with connect(settings) as redis:
            replay = Replay(
                redis=redis, settings=settings, policy=policy, classifier=classifier,
                metrics=Metrics(registry=_fresh_registry()),
            )  # fmt: skip
            async with replay.running():
                if stdin:
                    out.print("[dim]Type messages, one per line; Ctrl-D ends.[/]")
                    typed = typed_messages(sys.stdin, run_id=replay.run_id)
                    return await replay.show_each(typed, out.print)
                messages = read_conversation(conversation, run_id=replay.run_id)
                return await replay.show(messages, out.print)

    count = _run(main())
    out.print(f"[bold]{count}[/] messages decided.")


def _metrics_server(
    settings: Settings, health: Health
) -> contextlib.AbstractAsyncContextManager[Any]:
    """``/metrics``, ``/healthz`` and ``/readyz`` on the metrics port, when one is set."""
    if settings.metrics_port is None:
        return contextlib.nullcontext()
    from bot.metrics_server import MetricsServer

    return MetricsServer(health=health, host=settings.metrics_host, port=settings.metrics_port)


def _starting() -> Health:
    """A service's parts, none ready yet: its model loads, then Redis is reached."""
    health = Health()
    health.waiting("model", "loading")
    health.waiting("redis", "not connected yet")
    return health


async def _ready_classifier(settings: Settings, policy: Policy, health: Health) -> Classifier:
    """The classifier, loaded off the event loop so the metrics port answers meanwhile."""
    classifier = await asyncio.to_thread(build_classifier, settings, policy)
    health.ready("model")
    return classifier


def _waiting_for_redis(health: Health) -> Callable[[str], None]:
    return lambda reason: health.waiting("redis", reason)


def _stop_on_signals() -> asyncio.Event:
    """An event set by SIGTERM or SIGINT, for a clean shutdown."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    return stop


def _serve(settings: Settings, policy: Policy) -> None:
    from bot.serve import platforms, serve

    async def main() -> None:
        stop = _stop_on_signals()
        health = _starting()
        async with _metrics_server(settings, health):
            classifier = await _ready_classifier(settings, policy, health)
            typer.echo(
                f"modtriage serving {', '.join(platforms(settings))} · classifier "
                f"{classifier.name}",
                err=True,
            )
            try:
                async with connect(
                    settings, retry_until=stop, on_wait=_waiting_for_redis(health)
                ) as redis:
                    health.watch("redis", redis_check(redis))
                    await serve(
                        settings=settings, policy=policy, classifier=classifier, redis=redis,
                        metrics=Metrics(), stop=stop, health=health,
                    )  # fmt: skip
            except StoreUnavailable:
                if not stop.is_set():
                    raise  # stopped before Redis ever answered: a clean exit

    _run(main())


def _fresh_registry() -> Any:
    from prometheus_client import CollectorRegistry

    return CollectorRegistry()


@app.command()
def worker(
    processes: Annotated[
        int | None,
        typer.Option(
            min=1,
            max=256,
            help="worker processes under this one, one core each (default: "
            "MODTRIAGE_WORKER_PROCESSES, else one per CPU)",
        ),
    ] = None,
) -> None:
    """Run pipeline workers until SIGTERM or SIGINT.

    One process per CPU by default, restarted when one dies; scale out by running more.
    Waits for Redis when it does not answer yet.
    """
    from bot.runtime import build_worker
    from bot.supervisor import default_processes, watch_parent

    settings = _settings()
    policy = _policy(settings)
    count = processes or settings.worker_processes or default_processes()
    if count > 1:
        _supervise(settings, count)
        return

    async def main() -> None:
        stop = _stop_on_signals()
        loop = asyncio.get_running_loop()
        watch_parent(lambda: _call_soon(loop, stop.set))
        health = _starting()
        async with _metrics_server(settings, health):
            classifier = await _ready_classifier(settings, policy, health)
            try:
                async with connect(
                    settings, retry_until=stop, on_wait=_waiting_for_redis(health)
                ) as redis:
                    health.watch("redis", redis_check(redis))
                    w = build_worker(
                        redis=redis, settings=settings, policy=policy, classifier=classifier,
                        metrics=Metrics(),
                    )  # fmt: skip
                    await w.judge.policies.publish_files(by=w.consumer, at=datetime.now(UTC))
                    typer.echo(
                        f"worker {w.consumer} ready (classifier {classifier.name})", err=True
                    )
                    await w.run(stop)
            except StoreUnavailable:
                if not stop.is_set():
                    raise  # stopped before Redis ever answered: a clean exit

    _run(main())


def _call_soon(loop: asyncio.AbstractEventLoop, callback: Callable[[], object]) -> None:
    loop.call_soon_threadsafe(callback)


def _supervise(settings: Settings, count: int) -> None:
    """``worker --processes N`` with N > 1: the parent of N single-process workers."""
    import os

    from bot.connection import EmbeddedRedis
    from bot.supervisor import Supervisor, child_command

    env = dict(os.environ)
    embedded = None
    if settings.redis_url is None:  # one embedded server for all the children
        embedded = EmbeddedRedis(data_dir=settings.data_dir)
        try:
            env["REDIS_URL"] = embedded.start()
        except StoreUnavailable as exc:
            raise _err(f"{exc}. Set REDIS_URL to a reachable Redis 6.2+, or unset it.", 3) from exc
    supervisor = Supervisor(
        command=child_command(), processes=count, env=env, metrics_port=settings.metrics_port
    )
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: supervisor.stop())
    typer.echo(f"modtriage worker: {count} processes", err=True)
    try:
        supervisor.run()
    finally:
        if embedded is not None:
            embedded.stop()


@app.command()
def classify(text: Annotated[str, typer.Argument(help="the message to judge")]) -> None:
    """Explain how the policy judges one text.

    No Redis, nothing recorded.
    """
    from bot.pipeline.judge import build_judge

    settings = _settings()
    policy = _policy(settings)
    classifier = build_classifier(settings, policy)
    message = Message(
        platform="console", workspace="console", channel="cli", id="classify",
        author=Author(id="you", name="you"), text=text,
    )  # fmt: skip
    judge = build_judge(policy=policy, classifier=classifier, settings=settings)
    [judged] = _run(judge.judge([message]))
    verdict, actions, result = judged.verdict, judged.actions, judged.classification
    assert verdict is not None  # the decide stage always gives one
    out = _console()
    out.print(f"route: [bold]{verdict.route.value}[/]  category: {verdict.category or '-'}")
    out.print(f"stage: {verdict.stage}  model: {classifier.name}")
    out.print(f"why: {escape(verdict.explain())}")
    if result and result.scores:
        ranked = sorted(result.scores.items(), key=lambda kv: -kv[1])
        out.print("scores: " + ", ".join(f"{c} {s:.2f}" for c, s in ranked))
    if result and result.faq:
        out.print(f"faq answer: {result.faq.faq_id} (match {result.faq.score:.2f})")
    out.print("actions: " + (", ".join(a.type for a in actions) or "none"))


@app.command()
def bench(
    as_json: Annotated[bool, typer.Option("--json", help="print one JSON object")] = False,
    messages: Annotated[int, typer.Option(min=10, help="messages through the pipeline")] = 2000,
) -> None:
    """Measure throughput and latency on this machine.

    Messages per second through Redis, and the latency from ingest to decision.
    """
    import json

    from bot.bench import run_bench

    settings = _settings()
    policy = _policy(settings)
    result = _run(run_bench(settings=settings, policy=policy, messages=messages))
    if settings.classifier == "embedded":
        from bot.classifiers.benchmark import classifier_benchmark

        result |= classifier_benchmark(settings, policy)
    from bot.faq.benchmark import faq_benchmark

    result |= faq_benchmark(settings, policy)
    if as_json:
        typer.echo(json.dumps(result))
        return
    out = _console()
    for key, value in result.items():
        out.print(f"{key:32} {value}")


def _mount() -> None:
    from bot.chaos.commands import chaos
    from bot.classifiers import commands as classifier_commands
    from bot.escalation import commands as escalation_commands
    from bot.faq import commands as faq_commands
    from bot.faq.train_command import train_faq
    from bot.insights import commands as insights_commands
    from bot.partition_commands import app as partitions_app
    from bot.review import commands as review_commands

    app.add_typer(review_commands.app)
    app.command("train")(classifier_commands.train)
    app.command("backtest")(insights_commands.backtest)
    faq_commands.app.command("train")(train_faq)
    app.add_typer(faq_commands.app, name="faq")
    app.add_typer(escalation_commands.app, name="escalation")
    app.add_typer(partitions_app, name="partitions")
    classifier_commands.eval_app.command("faq")(faq_commands.eval_faq)
    app.add_typer(classifier_commands.eval_app, name="eval")
    app.command("chaos")(chaos)


_mount()


def main() -> None:
    """The ``modtriage`` entry point: a start-up error anywhere is one line, never a trace."""
    try:
        app()
    except (ConfigError, MalformedMessage) as exc:
        fail(str(exc), 2)
        raise SystemExit(2) from exc
