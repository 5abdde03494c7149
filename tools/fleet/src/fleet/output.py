"""Shared output for every fleet command: a rich rendering for people, `--json` for machines."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from typing import Any

from rich.console import Console

console = Console()
err_console = Console(stderr=True)


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
