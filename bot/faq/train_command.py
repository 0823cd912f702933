"""``modtriage faq train``: fit the FAQ file's own matcher and store it where the bot finds it.

Mounted in ``bot/cli.py`` as ``faq train`` next to the other FAQ commands::

    modtriage faq train [--faqs F.yaml] [--policy P] [--epochs N] [--seed S] [--json]

Fine-tunes a copy of the stock encoder on the file's example questions
(:mod:`bot.faq.training`, the ``train`` extra), chooses the gate on the file's own held-out
examples and off-topic texts, and writes ``<data_dir>/faq-matchers/<version>/``
(:mod:`bot.faq.trained`). Workers, ``faq test`` and ``eval faq`` pick it up for that content
of the file with no setting; the previous folder of an edited file stays until deleted.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from bot.errors import ConfigError
from bot.faq.commands import FaqsOption, JsonOption, PolicyOption, _faq_path
from bot.faq.entries import load_faqs
from bot.faq.trained import matcher_dir, new_record, save_record
from bot.progress import progress_bar
from bot.settings import load_settings
from bot.terminal import fail

__all__ = ["train_faq"]


def train_faq(
    faqs: FaqsOption = None,
    policy: PolicyOption = None,
    epochs: Annotated[int, typer.Option(min=1, max=50, help="passes over the questions")] = 4,
    seed: Annotated[int, typer.Option(help="the same seed, file and machine: same weights")] = 0,
    as_json: JsonOption = False,
) -> None:
    """Fine-tune a matcher for one FAQ file.

    Stored under the data directory by the file's content hash; the FAQ stage uses it for
    exactly that content, the closed-form matcher otherwise.
    """
    settings = load_settings()
    try:
        from bot.faq.training import TrainRecipe, require_train_extra, total_steps, train_matcher

        require_train_extra()
        loaded = load_faqs(_faq_path(faqs, policy, settings))
        recipe = TrainRecipe(epochs=epochs, seed=seed)
        folder = matcher_dir(settings.data_dir, loaded)
        staging = folder.with_name(folder.name + ".partial")
        shutil.rmtree(staging, ignore_errors=True)
        with progress_bar("fine-tuning", total_steps(loaded, recipe)) as advance:
            result = train_matcher(loaded, staging, recipe=recipe, advance=advance)
        record = new_record(
            loaded, result.gate, recipe.model_dump(mode="json"), seconds=result.seconds
        )
        save_record(staging, record)
        shutil.rmtree(folder, ignore_errors=True)
        staging.rename(folder)
    except ConfigError as exc:
        raise fail(str(exc)) from exc
    if as_json:
        typer.echo(json.dumps({"folder": str(folder), **record.model_dump(mode="json")}))
        return
    gate = result.gate
    out = Console(highlight=False)
    out.print(
        f"trained:{loaded.version} for {Path(loaded.path).name} ({record.entries} entries, "
        f"{record.questions} questions) in {result.seconds:.0f} s -> {folder}"
    )
    out.print(
        f"gate: min_similarity {gate.min_similarity:.2f}, min_confidence "
        f"{gate.min_confidence:.2f}; on the file's held-out examples ({gate.in_scope} to "
        f"answer, {gate.out_of_scope} to hand off): precision {gate.answered_precision:.3f}, "
        f"coverage {gate.in_scope_coverage:.3f}, out-of-scope recall {gate.oos_recall:.3f}"
        + ("" if gate.met_target else f" (target precision {recipe.target_precision} not met)")
    )
