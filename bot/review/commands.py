"""Operators' commands for cases: the same service the Slack and Discord commands call.

Mounted flat on the main app (``app.add_typer(bot.review.commands.app)``), it gives::

    modtriage queue                       cases waiting for a moderator, oldest first
    modtriage case show 17 [--json]       one case: message, verdict, actions, history
    modtriage case channel C123           cases about one channel's messages
    modtriage claim 17
    modtriage decide 17 timeout --duration 1h --reason "..."
    modtriage history U123                a member's cases, newest first, and strike points
    modtriage stats [--days N | --since 7d] [--json]
    modtriage shadow on|off [--channel C] [--category spam]   /   modtriage shadow status
    modtriage shadow report [--days N] [--json]   what shadow mode would have done

The operator acts as an administrator of one tenant (``--as`` names them in the record):
``--workspace slack:T0123`` says which; it defaults to the only tenant served
(``MODTRIAGE_WORKSPACES``), else the only one with cases.
"""

from __future__ import annotations

import asyncio
import getpass
import re
from collections.abc import Awaitable, Callable
from typing import Annotated, Literal, TypeVar

import typer
from pydantic import ValidationError
from rich.markup import escape

from bot.case import Case
from bot.connection import connect
from bot.errors import ConfigError, ReviewError, StoreUnavailable
from bot.insights.drift import DriftReport
from bot.message import Platform
from bot.pipeline.judge import JudgeFactory
from bot.policy import load_policy, parse_duration
from bot.policy_book import PolicyBook
from bot.review.actor import Actor
from bot.review.case_text import render_case, summary
from bot.review.decision import MAX_TIMEOUT_S, Decision
from bot.review.service import ModerationService
from bot.settings import Settings, load_settings
from bot.stats import MAX_DAYS, Stats
from bot.tenant import Tenant
from bot.terminal import console, fail

__all__ = ["app", "with_service"]

app = typer.Typer(help="Cases, the review queue, strikes and shadow mode.", no_args_is_help=True)
case_app = typer.Typer(help="Look at cases.", no_args_is_help=True)
app.add_typer(case_app, name="case")

T = TypeVar("T")

PlatformOpt = Annotated[
    str | None, typer.Option("--platform", help="slack, discord or console (with --workspace)")
]
WorkspaceOpt = Annotated[
    str | None,
    typer.Option(
        "--workspace",
        help="the tenant: slack:T0123, discord:<guild id> or console:demo; "
        "default the only one served or with cases",
    ),
]
AsOpt = Annotated[str | None, typer.Option("--as", help="operator name for the record")]
JsonOpt = Annotated[bool, typer.Option("--json", help="print JSON")]


def _platform(platform: str | None) -> Platform | None:
    if platform is None:
        return None
    if platform not in ("slack", "discord", "console"):
        raise fail(f"--platform must be slack, discord or console, not {platform!r}", 2)
    return Tenant.parse(f"{platform}:-").platform


async def _tenant(
    service: ModerationService, settings: Settings, platform: str | None, workspace: str | None
) -> Tenant:
    """The tenant an operator means: ``--workspace`` (``slack:T0123``, or an id with
    ``--platform``), else the only one served (``MODTRIAGE_WORKSPACES``), else the only one
    with cases."""
    chosen = _platform(platform)
    if workspace and ":" in workspace:
        try:
            return Tenant.parse(workspace)
        except ValueError as exc:
            raise fail(str(exc), 2) from exc
    if chosen is not None and workspace:
        return Tenant(platform=chosen, workspace=workspace)
    known = list(settings.tenants) or await service.store.tenants()
    fits = [
        t
        for t in known
        if (chosen is None or t.platform == chosen) and (not workspace or t.workspace == workspace)
    ]
    if len(fits) == 1:
        return fits[0]
    if not fits:
        seen = ", ".join(str(t) for t in known) or "none yet"
        raise fail(
            f"no such workspace; say which with --workspace <platform>:<id> (known: {seen})", 2
        )
    listed = ", ".join(str(t) for t in fits)
    raise fail(f"several workspaces: say which with --workspace (one of {listed})", 2)


def _operator(tenant: Tenant, name: str | None) -> Actor:
    """The operator acts as an administrator of the tenant they name."""
    return Actor(
        platform=tenant.platform,
        workspace=tenant.workspace,
        user_id=name or f"operator:{getpass.getuser()}",
        is_admin=True,
    )


def with_service(
    call: Callable[[ModerationService, Actor], Awaitable[T]],
    *,
    name: str | None,
    platform: str | None = None,
    workspace: str | None = None,
    judges: JudgeFactory | None = None,
) -> T:
    """Connect as the settings say, build the service (previews judged by ``judges``: rules
    only when None), resolve the tenant, run one call as the operator, map errors to exits."""
    _platform(platform)
    try:
        settings = load_settings()
        policy = load_policy(settings.policy)
    except ConfigError as exc:
        raise fail(str(exc), 2) from exc

    async def run() -> T:
        async with connect(settings) as redis:
            service = ModerationService(
                redis=redis,
                streams=settings.streams(),
                policy=policy,
                policies=PolicyBook.from_settings(redis=redis, settings=settings, default=policy),
                stream_maxlen=settings.stream_maxlen,
                drift_min_messages=settings.drift_min_messages,
                judges=judges,
            )
            tenant = await _tenant(service, settings, platform, workspace)
            return await call(service, _operator(tenant, name))

    try:
        return asyncio.run(run())
    except ReviewError as exc:
        raise fail(str(exc), 1) from exc
    except StoreUnavailable as exc:
        raise fail(f"{exc}. Set REDIS_URL to a reachable Redis 6.2+, or unset it.", 3) from exc


def _print(text: str) -> None:
    console().print(escape(text))


@case_app.command("show")
def case_show(
    case_id: Annotated[str, typer.Argument(help="the case number")],
    as_json: JsonOpt = False,
    workspace: WorkspaceOpt = None,
    name: AsOpt = None,
) -> None:
    """One case, with its evidence, actions and history.

    The message, the verdict and its evidence, the actions and the full history.
    """
    case = with_service(lambda s, a: s.case(a, case_id), name=name, workspace=workspace)
    _print(case.model_dump_json(indent=2) if as_json else render_case(case))


@case_app.command("channel")
def case_channel(
    channel: Annotated[str, typer.Argument(help="channel id")],
    platform: PlatformOpt = None,
    workspace: WorkspaceOpt = None,
    limit: Annotated[int, typer.Option(min=1, max=500)] = 20,
    name: AsOpt = None,
) -> None:
    """Cases about one channel's messages, newest first."""
    cases = with_service(
        lambda s, a: s.channel_cases(a, channel, limit=limit),
        name=name,
        platform=platform,
        workspace=workspace,
    )
    _print("\n".join(summary(c) for c in cases) or "no cases")


@app.command()
def queue(
    limit: Annotated[int, typer.Option(min=1, max=500)] = 20,
    workspace: WorkspaceOpt = None,
    name: AsOpt = None,
) -> None:
    """Cases waiting for a moderator, oldest first.

    Open and appealed cases of the tenant."""
    cases = with_service(lambda s, a: s.queue(a, limit=limit), name=name, workspace=workspace)
    _print("\n".join(summary(c) for c in cases) or "the queue is empty")


@app.command()
def claim(case_id: str, workspace: WorkspaceOpt = None, name: AsOpt = None) -> None:
    """Take a case so no other moderator decides it meanwhile."""
    case = with_service(lambda s, a: s.claim(a, case_id), name=name, workspace=workspace)
    _print(f"claimed: {summary(case)}")


@app.command()
def decide(
    case_id: str,
    kind: Annotated[
        str, typer.Argument(help="remove, dismiss, warn, timeout, kick, ban, overturn, uphold")
    ],
    reason: Annotated[str, typer.Option(help="told to the member and kept in the record")] = "",
    duration: Annotated[str | None, typer.Option(help="for timeout: 10m, 1h, 1d")] = None,
    category: Annotated[
        str | None, typer.Option(help="the rule it breaks, if not the case's")
    ] = None,
    workspace: WorkspaceOpt = None,
    name: AsOpt = None,
) -> None:
    """Decide a case.

    The actions go to the platform's action stream and are performed once.
    """
    try:
        seconds = parse_duration(duration) if duration is not None else None
        if isinstance(seconds, int) and seconds > MAX_TIMEOUT_S:
            raise fail(
                f"--duration: a timeout is at most 28 days (Discord's limit), not {duration}"
            )
        decision = Decision.model_validate(
            {"kind": kind, "reason": reason, "duration_s": seconds, "category": category}
        )
    except (ValueError, ValidationError) as exc:
        first = exc.errors()[0]["msg"] if isinstance(exc, ValidationError) else str(exc)
        raise fail(f"bad decision: {first}", 2) from exc
    case, actions = with_service(
        lambda s, a: s.decide(a, case_id, decision), name=name, workspace=workspace
    )
    _print(f"decided: {summary(case)}")
    _print("actions: " + (", ".join(a.type for a in actions) or "none"))


@app.command()
def history(
    user: Annotated[str, typer.Argument(help="the member's platform user id")],
    platform: PlatformOpt = None,
    workspace: WorkspaceOpt = None,
    limit: Annotated[int, typer.Option(min=1, max=500)] = 20,
    name: AsOpt = None,
) -> None:
    """A member's cases and strike points.

    Cases newest first; strike points in the current window.
    """

    async def both(service: ModerationService, actor: Actor) -> tuple[list[Case], int]:
        return (
            await service.history(actor, user, limit=limit),
            await service.strikes(actor, user),
        )

    cases, points = with_service(both, name=name, platform=platform, workspace=workspace)
    _print(f"{user}: {len(cases)} case(s), {points} strike point(s) in the current window")
    for case in cases:
        _print(summary(case))


def _window_days(days: int | None, since: str | None) -> int:
    """``--days N`` or ``--since Nd`` (default 7)."""
    if days is not None and since is not None:
        raise fail("give --days or --since, not both", 2)
    if since is not None:
        match = re.fullmatch(r"(\d+)d", since.strip())
        if match is None:
            raise fail(f"--since takes days like 7d, not {since!r}", 2)
        days = int(match.group(1))
    days = 7 if days is None else days
    if not 1 <= days <= MAX_DAYS:
        raise fail(f"a stats window is 1 to {MAX_DAYS} days", 2)
    return days


@app.command()
def stats(
    days: Annotated[int | None, typer.Option(help="the last N UTC days, today included")] = None,
    since: Annotated[str | None, typer.Option(help="the same as a span: 7d, 30d")] = None,
    as_json: JsonOpt = False,
    workspace: WorkspaceOpt = None,
    name: AsOpt = None,
) -> None:
    """Moderation figures over a window of days.

    Volumes, actions, escalation share, reviewer agreement, time to decision and cost, over
    the last 7 days unless told.
    """
    window = _window_days(days, since)

    async def both(service: ModerationService, actor: Actor) -> tuple[Stats, DriftReport]:
        return await service.stats(actor, days=window), await service.score_drift(actor)

    numbers, drift = with_service(both, name=name, workspace=workspace)
    if as_json:
        _print(numbers.model_dump_json(indent=2))
        return
    _print(f"stats over the {numbers.window}")
    for key, value in numbers.numbers().items():
        shown = f"{value:.3f}" if value != int(value) else f"{int(value)}"
        _print(f"{key:<32} {shown}")
    for line in drift.lines():
        _print(f"warning: {line}")


@app.command()
def shadow(
    state: Annotated[str, typer.Argument(help="on, off, status or report")],
    channel: Annotated[str | None, typer.Option(help="only this channel")] = None,
    category: Annotated[str | None, typer.Option(help="only this category")] = None,
    days: Annotated[int, typer.Option(help="report: the last N UTC days, today included")] = 7,
    as_json: JsonOpt = False,
    workspace: WorkspaceOpt = None,
    name: AsOpt = None,
) -> None:
    """Shadow mode: decide and record, act on nothing.

    Moderators' decisions still act. `report` says what shadow mode would have done over the
    last --days and how moderators decided those cases.
    """
    if state == "report":
        _shadow_report(days, as_json=as_json, workspace=workspace, name=name)
        return
    if state not in ("on", "off", "status"):
        raise fail("say on, off, status or report", 2)
    if channel and category:
        raise fail("give --channel or --category, not both", 2)
    mode: Literal["on", "off", "status"] = state  # type: ignore[assignment]  # checked above

    async def run(service: ModerationService, actor: Actor) -> dict[str, bool]:
        if mode != "status":
            await service.set_shadow(actor, mode == "on", channel=channel, category=category)
        return await service.shadow_state(actor)

    where = with_service(run, name=name, workspace=workspace)
    on = [k for k, v in where.items() if v]
    _print("shadow mode: " + (", ".join(on) if on else "off everywhere"))


def _shadow_report(days: int, *, as_json: bool, workspace: str | None, name: str | None) -> None:
    if not 1 <= days <= MAX_DAYS:
        raise fail(f"--days: a report covers 1 to {MAX_DAYS} days", 2)
    report = with_service(
        lambda s, a: s.shadow_report(a, days=days), name=name, workspace=workspace
    )
    if as_json:
        typer.echo(report.model_dump_json())
        return
    _print(f"{report.tenant}: shadow mode over the {report.window}")
    for line in report.summary():
        _print(f"  {line}")
    for example in report.examples:
        decided = "waiting" if example.agreed is None else example.decision
        where = example.link or f"channel {example.channel}, message {example.message_id}"
        _print(
            f"  case {example.case_id} · {example.category or 'report'} · would "
            f"{', '.join(example.would) or 'nothing'} · {decided} · {where}: {example.text[:80]}"
        )
