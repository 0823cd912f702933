"""``modtriage faq suggest``: new FAQ entries from the questions members kept asking, for
operators; the same service the Slack and Discord ``/mod faq suggest`` call.

Mounted under ``modtriage faq`` (:mod:`bot.faq.commands`)::

    modtriage faq suggest [--days N] [--workspace W] [--json]
    modtriage faq suggest accept ID [--answer TEXT] [--id FAQ_ID] [--workspace W]

The operator acts as an administrator of one tenant (``--workspace slack:T0123``; default the
only one served, else the only one with cases), as with ``modtriage queue``.
"""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.markup import escape

from bot.errors import ConfigError
from bot.faq.suggestions import FaqSuggestion
from bot.pipeline.judge import Judge, JudgeFactory, build_judge
from bot.policy import Policy
from bot.review.commands import AsOpt, WorkspaceOpt, with_service
from bot.settings import load_settings
from bot.terminal import console, fail

__all__ = ["app"]

app = typer.Typer(
    help="New FAQ entries from questions members keep asking.",
    invoke_without_command=True,
)


def _judges() -> JudgeFactory:
    """What previews with the FAQ encoder: the service groups questions with it."""
    from bot.classifiers import build_faq_encoder
    from bot.classifiers.rules_only import RulesOnlyClassifier

    try:
        settings = load_settings()
        encoder = build_faq_encoder(settings)
    except ConfigError as exc:
        raise fail(str(exc), 2) from exc

    def judge(policy: Policy) -> Judge:
        return build_judge(
            policy=policy, classifier=RulesOnlyClassifier(), settings=settings, encoder=encoder
        )

    return judge


def render(suggestion: FaqSuggestion) -> str:
    """One suggestion in a few lines, as ``faq suggest`` prints it."""
    span = f"{suggestion.first_at:%Y-%m-%d}"
    if suggestion.last_at.date() != suggestion.first_at.date():
        span += f" to {suggestion.last_at:%Y-%m-%d}"
    lines = [
        f"{suggestion.id}  asked {suggestion.asked} times by {suggestion.members} members "
        f"({span}), as entry {suggestion.faq_id}",
        *(f"  - {q}" for q in suggestion.questions[:5]),
    ]
    if len(suggestion.questions) > 5:
        lines.append(f"  ... and {len(suggestion.questions) - 5} more phrasings")
    if suggestion.answer:
        lines.append(f"  draft answer (a {suggestion.answer_by}'s reply): {suggestion.answer}")
    else:
        lines.append("  no draft answer: nobody answered in its threads; give one with --answer")
    lines.append(f"  accept: modtriage faq suggest accept {suggestion.id} [--answer TEXT]")
    return "\n".join(lines)


@app.callback()
def suggest(
    ctx: typer.Context,
    days: Annotated[int, typer.Option(min=1, max=400, help="the last how many days")] = 7,
    workspace: WorkspaceOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="print one JSON object")] = False,
    name: AsOpt = None,
) -> None:
    """Propose FAQ entries from repeated questions nobody's entry answered.

    Questions the bot handed off in the last days, grouped by meaning; a group asked by
    faq.suggest_min_members members or more is proposed with a draft answer from a reply
    in its threads. Accept one with `modtriage faq suggest accept ID`.
    """
    if ctx.invoked_subcommand is not None:
        return
    found = with_service(
        lambda s, a: s.suggest_faq(a, days=days),
        name=name,
        workspace=workspace,
        judges=_judges(),
    )
    if as_json:
        typer.echo(
            json.dumps({"days": days, "suggestions": [s.model_dump(mode="json") for s in found]})
        )
        return
    if not found:
        console().print(f"no suggestions: no question was asked by enough members in {days} days")
        return
    console().print(escape("\n\n".join(render(s) for s in found)))


@app.command("accept")
def accept(
    suggestion_id: Annotated[str, typer.Argument(metavar="ID", help="from `faq suggest`")],
    answer: Annotated[
        str | None, typer.Option("--answer", help="the approved answer (default: the draft)")
    ] = None,
    faq_id: Annotated[
        str | None, typer.Option("--id", help="the entry's id (default: the proposed one)")
    ] = None,
    workspace: WorkspaceOpt = None,
    name: AsOpt = None,
) -> None:
    """Add a suggestion to the FAQ file as an entry.

    Its phrasings become the entry's questions; running workers answer with it from their
    next batch.
    """
    entry = with_service(
        lambda s, a: s.accept_faq(a, suggestion_id, answer=answer, faq_id=faq_id),
        name=name,
        workspace=workspace,
        judges=_judges(),
    )
    console().print(
        escape(f"added {entry.id} to the FAQ ({len(entry.questions)} questions): {entry.answer}")
    )
