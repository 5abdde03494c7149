"""CEL as the Kubernetes API server evaluates it, close enough for offline admission checks (cel-python 0.5.0).

cel-python implements the CEL standard library (size, contains, startsWith, endsWith, matches, all/exists/map/
filter, has). The API server adds extension libraries; the ValidatingAdmissionPolicies in this repository need a
few of the `strings` library's functions, which cel-python lacks, so they are provided here:

    split(sep) [split(sep, n)], indexOf(s), lastIndexOf(s), lowerAscii(), upperAscii(), trim(),
    replace(old, new), substring(start[, end]), charAt(i), join([sep]) on a list of strings.

Not provided (a policy that uses them fails to evaluate, and the check reports that, never passes silently):
optional syntax (`?.`, `.orValue`), the `quantity`, `url`, `ip`, `cidr`, `sets`, `lists` and `authorizer`
libraries. See docs/fleet.md, "fleet validate", admission policies.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import celpy
from celpy import celtypes
from celpy.evaluation import CELEvalError


class CelError(Exception):
    """A CEL expression that does not parse, or evaluates to an error rather than a value."""


def _split(s: celtypes.StringType, sep: celtypes.StringType, n: Any = None) -> celtypes.ListType:
    parts = str(s).split(str(sep)) if n is None or int(n) < 0 else str(s).split(str(sep), max(int(n) - 1, 0))
    if n is not None and int(n) == 0:
        parts = []
    return celtypes.ListType([celtypes.StringType(p) for p in parts])


def _substring(s: celtypes.StringType, start: Any, end: Any = None) -> celtypes.StringType:
    text = str(s)
    stop = len(text) if end is None else int(end)
    if not 0 <= int(start) <= stop <= len(text):
        raise ValueError(f"substring({start}, {stop}) out of range for a string of {len(text)}")
    return celtypes.StringType(text[int(start) : stop])


def _join(items: celtypes.ListType, sep: Any = "") -> celtypes.StringType:
    return celtypes.StringType(str(sep).join(str(i) for i in items))


def _char_at(s: celtypes.StringType, i: Any) -> celtypes.StringType:
    text = str(s)
    return celtypes.StringType(text[int(i)] if int(i) < len(text) else "")


# Kubernetes `strings` extension library functions, by CEL name.
K8S_FUNCTIONS: dict[str, Callable[..., Any]] = {
    "split": _split,
    "indexOf": lambda s, sub: celtypes.IntType(str(s).find(str(sub))),
    "lastIndexOf": lambda s, sub: celtypes.IntType(str(s).rfind(str(sub))),
    "lowerAscii": lambda s: celtypes.StringType(str(s).lower()),
    "upperAscii": lambda s: celtypes.StringType(str(s).upper()),
    "trim": lambda s: celtypes.StringType(str(s).strip()),
    "replace": lambda s, old, new: celtypes.StringType(str(s).replace(str(old), str(new))),
    "substring": _substring,
    "charAt": _char_at,
    "join": _join,
}

_ENV = celpy.Environment()


class Program:
    """One compiled expression; compile once per policy, evaluate against many objects."""

    def __init__(self, expression: str) -> None:
        self.expression = expression
        try:
            self._program = _ENV.program(_ENV.compile(expression), functions=K8S_FUNCTIONS)
        except Exception as exc:  # cel-python raises CELParseError and others; all mean "cannot compile"
            raise CelError(f"cannot compile {expression!r}: {_short(exc)}") from exc

    def evaluate(self, activation: dict[str, Any]) -> Any:
        """The expression's value as a CEL value; raises CelError when evaluation fails."""
        try:
            value = self._program.evaluate(activation)
        except Exception as exc:  # evaluation errors surface as exceptions or as CELEvalError values
            raise CelError(f"{self.expression!r}: {_short(exc)}") from exc
        if isinstance(value, CELEvalError):
            raise CelError(f"{self.expression!r}: {_short(value)}")
        return value


def to_cel(value: Any) -> Any:
    """A JSON-like Python value (a rendered manifest) as CEL values; None stays null."""
    return celpy.json_to_cel(value)


def _short(exc: BaseException) -> str:
    """cel-python's messages embed the whole activation; the first argument is the useful part."""
    first = exc.args[0] if exc.args else exc
    return str(first).split(" (in activation", 1)[0][:300]
