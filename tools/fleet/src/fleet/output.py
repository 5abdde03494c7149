"""Shared output for every fleet command: a rich rendering for people, `--json` for machines."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from typing import Any

from rich.console import Console, ConsoleDimensions

# Width for tables when the output is a file or a pipe and $COLUMNS is unset. rich would use 80 (or the width of
# whatever terminal stdin is), which wraps a message mid-sentence in a log or a CI job; tables shrink to their
# content anyway, so a wide limit costs nothing.
NOT_A_TERMINAL_WIDTH = 240


class FleetConsole(Console):
    """A rich console that wraps for a terminal only.

    On a terminal it behaves as rich does ($COLUMNS or the terminal's width). Written to a file or a pipe, prose
    is never wrapped (soft wrap: one message, one line, so grep and log viewers see it whole) and tables get
    $COLUMNS if set, else NOT_A_TERMINAL_WIDTH. Both are decided at each print, because the stream behind
    sys.stdout can change after import (test runners, redirection inside a process).
    """

    def _to_terminal(self) -> bool:
        try:
            return self.file.isatty()
        except (AttributeError, ValueError, OSError):  # a closed or exotic stream is not a terminal
            return False

    @property
    def size(self) -> ConsoleDimensions:
        measured = super().size
        if self._width is not None or self._to_terminal() or os.environ.get("COLUMNS", "").isdigit():
            return measured  # rich already honours an explicit width, the terminal and $COLUMNS
        return ConsoleDimensions(NOT_A_TERMINAL_WIDTH, measured.height)

    @size.setter
    def size(self, new_size: tuple[int, int]) -> None:
        self._width, self._height = new_size

    @property  # rich declares a plain attribute; a property decides it at each print
    def soft_wrap(self) -> bool:
        return self._soft_wrap_requested or not self._to_terminal()

    @soft_wrap.setter
    def soft_wrap(self, value: bool) -> None:
        self._soft_wrap_requested = value


console = FleetConsole()
err_console = FleetConsole(stderr=True)


def emit(data: Any, render: Callable[[Console], None], as_json: bool) -> None:
    """Print `data` as JSON when asked, otherwise let `render` draw it for a human."""
    if as_json:
        # allow_nan=False: Infinity and NaN are not JSON; a command must say "no number" (null) instead.
        sys.stdout.write(json.dumps(data, indent=2, sort_keys=True, default=str, allow_nan=False) + "\n")
    else:
        render(console)


def fail(message: str, code: int = 1) -> None:
    """Print an error to stderr and exit with `code` (never 0)."""
    import typer

    err_console.print(f"[bold red]error:[/] {message}")
    raise typer.Exit(code=code or 1)
