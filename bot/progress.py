"""Progress bars for commands that take more than a few seconds: rich, on standard error.

Standard output stays what the command prints (``--json`` is one JSON object), and the bar is
drawn only on an interactive terminal (``TTY_INTERACTIVE=1`` forces it, ``0`` hides it), so
logs and pipes never fill with redraws. Library code takes an ``Advance`` callback and knows
nothing of rich: the command that owns the terminal passes the bar's.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

__all__ = ["Advance", "no_progress", "progress_bar"]

Advance = Callable[[int], None]
"""Called with the number of items just finished."""


def no_progress(done: int) -> None:
    """The ``Advance`` of code run without a terminal to draw on."""


@contextmanager
def progress_bar(description: str, total: int) -> Iterator[Advance]:
    """A bar of ``total`` items on standard error; yields the callback that moves it."""
    console = Console(stderr=True)
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("left"),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=console, disable=not console.is_interactive) as bar:
        task = bar.add_task(description, total=total)
        yield lambda done: bar.advance(task, done)
