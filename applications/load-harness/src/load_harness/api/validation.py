"""Request parsing: JSON body → pydantic model, or a problem. Also records each view's models for OpenAPI."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from flask import request
from pydantic import BaseModel, ValidationError

from load_harness.problems import ProblemError, from_validation_error, invalid

M = TypeVar("M", bound=BaseModel)
F = TypeVar("F", bound=Callable[..., Any])

MAX_BODY_BYTES = 64 * 1024


def _reject_constant(name: str) -> float:
    # Python's json accepts NaN and Infinity, which are not JSON; treat them as malformed input.
    raise ValueError(f"{name} is not valid JSON")


def require_json() -> None:
    """Refuse a body that is not declared as JSON (415), even an empty one a browser sends.

    A web page can send text/plain, a form or no body at all to any origin without asking first; it can only
    send `application/json` cross-origin after a CORS preflight, which this server never grants. So requiring
    the type keeps a page the user happens to visit from starting load when API_KEY is empty, whatever headers
    its browser does or does not send (security/origin.py refuses the cross-site requests it can recognise).

    One exception keeps the original API's scripts working (`curl -XPOST /load/cpu/stop` with no body): a request
    with no body, no Content-Type and none of the headers every browser adds to a POST (Origin, Sec-Fetch-Site)
    is not from a web page, and means "all defaults"."""
    if _bodiless_script_request():
        return
    if not request.is_json:  # application/json or application/*+json, any charset
        sent = request.mimetype or "none"
        raise ProblemError(
            415,
            "Unsupported Media Type",
            f"send the body as JSON with Content-Type: application/json (got {sent[:80]}); for all the defaults, "
            "send {} (curl --json '{}')",
            kind="unsupported-media-type",
        )


def _bodiless_script_request() -> bool:
    headers = request.headers
    if "Content-Type" in headers or "Origin" in headers or "Sec-Fetch-Site" in headers:
        return False
    return request.content_length in (None, 0) and "Transfer-Encoding" not in headers


def parse_body(model: type[M]) -> M:
    """Parse the JSON request body into `model`. An empty body means "all defaults", as in the original API,
    but it must still be declared as JSON (require_json).

    Another type is a 415; malformed JSON is a 400; anything that parses but does not fit the model is a 422
    naming the field."""
    require_json()
    raw = request.get_data(cache=True)
    if len(raw) > MAX_BODY_BYTES:
        raise ProblemError(413, "Payload Too Large", f"the body is {len(raw)} bytes; the limit is {MAX_BODY_BYTES}")
    if not raw:
        data: Any = {}  # only a truly empty body: " " or "\n" is not JSON, and is refused as malformed
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
