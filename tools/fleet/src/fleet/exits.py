"""`die`: fleet.output.fail with a NoReturn type, so callers need no unreachable `return` after it."""

from __future__ import annotations

from typing import NoReturn

import typer

from fleet.output import fail


def die(message: str, code: int) -> NoReturn:
    fail(message, code)
    raise typer.Exit(code)  # not reached: fail() raises; this line is for type checkers
