"""HTML form values → the API's own pydantic request models, and their errors → one message per field.

The dashboard never re-implements a bound: it parses the text a browser sends into numbers, then validates with
the same model (and the same pod-dependent check) as the JSON API, and shows the API's messages."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ValidationError

from load_harness.problems import ProblemError, from_validation_error

M = TypeVar("M", bound=BaseModel)
_INT = re.compile(r"[+-]?\d{1,18}")
_FLOAT = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d{1,3})?")


@dataclass
class FormResult(Generic[M]):
    values: dict[str, str]
    errors: dict[str, str] = field(default_factory=dict)
    model: M | None = None
    detail: str | None = None  # a message that belongs to the whole form (admission, server errors)

    @property
    def ok(self) -> bool:
        return self.model is not None and not self.errors and self.detail is None


def to_number(raw: str, kind: type) -> tuple[Any, str | None]:
    """Parse one field's text; an error message when it is not a number of the right kind."""
    text = raw.strip()
    if not text:
        return None, "enter a value"
    if kind is int:
        if not _INT.fullmatch(text):
            return None, "must be a whole number"
        return int(text), None
    if not _FLOAT.fullmatch(text):
        return None, "must be a number"
    return float(text), None


def problem_errors(exc: ProblemError) -> dict[str, str]:
    """Field → message from a 422 problem; the first message wins when a field has several."""
    errors: dict[str, str] = {}
    for entry in exc.errors or []:
        errors.setdefault(str(entry.get("field", "")).split(".")[0], str(entry.get("message", "")))
    return errors


def parse(
    model: type[M],
    form: Mapping[str, str],
    fields: Mapping[str, type],
    check: Callable[[M], None] | None = None,
) -> FormResult[M]:
    """Fill `model` from `fields` of the form (name → int or float), then run `check` (the API's pod bound)."""
    values = {name: str(form.get(name, "")) for name in fields}
    result: FormResult[M] = FormResult(values)
    data: dict[str, Any] = {}
    for name, kind in fields.items():
        number, error = to_number(values[name], kind)
        if error:
            result.errors[name] = error
        else:
            data[name] = number
    if result.errors:
        return result
    try:
        result.model = model.model_validate(data, strict=True)
    except ValidationError as exc:
        result.errors = problem_errors(from_validation_error(exc))
        return result
    if check is not None:
        try:
            check(result.model)
        except ProblemError as exc:
            result.errors = problem_errors(exc) or {}
            if not result.errors:
                result.detail = exc.detail
    return result
