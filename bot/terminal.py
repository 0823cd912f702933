"""What the command line prints: errors as one line on stderr, text that rich does not re-wrap.

Every command fails the same way: ``error: <what, where, the fix>`` on one line of stderr and
an exit code (2: the invocation, a setting or a file is wrong; 1: the service refused; 3: Redis
cannot be reached). A console that soft-wraps leaves long lines to the terminal, so a line
piped to a file or ``grep`` stays one line.
"""

from __future__ import annotations

import typer
from rich.console import Console
from rich.markup import escape

__all__ = ["console", "fail"]


def console(*, stderr: bool = False) -> Console:
    """A console that prints lines as they are, without syntax colours or inserted breaks."""
    return Console(stderr=stderr, highlight=False, soft_wrap=True)


def fail(message: str, code: int = 2) -> typer.Exit:
    """Print ``error: message`` on stderr; returns the exit to raise."""
    console(stderr=True).print(f"[bold red]error:[/] {escape(message)}")
    return typer.Exit(code)
