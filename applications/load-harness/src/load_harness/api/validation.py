"""Request parsing: JSON body → pydantic model, or a problem. Also records each view's models for OpenAPI."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from flask import request
from pydantic import BaseModel, ValidationError

from load_harness.api.problems import ProblemError, from_validation_error, invalid

M = TypeVar("M", bound=BaseModel)
F = TypeVar("F", bound=Callable[..., Any])

MAX_BODY_BYTES = 64 * 1024


def _reject_constant(name: str) -> float:
    # Python's json accepts NaN and Infinity, which are not JSON; treat them as malformed input.
    raise ValueError(f"{name} is not valid JSON")


def parse_body(model: type[M]) -> M:
    """Parse the request body into `model`. An empty body means "all defaults", as in the original API.

    Malformed JSON is a 400; anything that parses but does not fit the model is a 422 naming the field."""
    raw = request.get_data(cache=True)
    if len(raw) > MAX_BODY_BYTES:
        raise ProblemError(413, "Payload Too Large", f"the body is {len(raw)} bytes; the limit is {MAX_BODY_BYTES}")
    if not raw.strip():
        data: Any = {}
    else:
        try:
            data = json.loads(raw, parse_constant=_reject_constant)
        except (ValueError, RecursionError) as exc:
            raise ProblemError(
                400, "Malformed JSON", f"the body is not valid JSON: {exc}", kind="malformed-json"
            ) from exc
    if not isinstance(data, dict):
        raise invalid([{"field": "(body)", "message": "must be a JSON object", "value": type(data).__name__}])
    try:
        return model.model_validate(data, strict=True)
    except ValidationError as exc:
        raise from_validation_error(exc) from exc


def parse_query(model: type[M]) -> M:
    try:
        return model.model_validate(request.args.to_dict())
    except ValidationError as exc:
        raise from_validation_error(exc) from exc


@dataclass
class Operation:
    summary: str
    body: type[BaseModel] | None = None
    query: type[BaseModel] | None = None
    responses: dict[int, type[BaseModel] | str] = field(default_factory=dict)
    public: bool = False
    tags: list[str] = field(default_factory=list)


def documented(
    summary: str,
    *,
    body: type[BaseModel] | None = None,
    query: type[BaseModel] | None = None,
    responses: dict[int, type[BaseModel] | str] | None = None,
    public: bool = False,
    tags: list[str] | None = None,
) -> Callable[[F], F]:
    """Attach OpenAPI metadata to a view; openapi.py reads it back from the URL map."""

    def decorate(view: F) -> F:
        view.__api_operation__ = Operation(  # type: ignore[attr-defined]
            summary, body, query, dict(responses or {}), public, list(tags or [])
        )
        return view

    return decorate
