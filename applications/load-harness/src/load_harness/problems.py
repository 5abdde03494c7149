"""RFC 9457 problem details. Every error the API returns has this shape; `error` repeats `detail` so that
scripts written against the original (which returned {"error": ...}) keep working."""

from __future__ import annotations

from typing import Any

from flask import Flask, Response, jsonify, request
from pydantic import ValidationError
from sqlalchemy.exc import DBAPIError
from werkzeug.exceptions import HTTPException

PROBLEM_TYPE = "https://github.com/load-harness/problems/"
MEDIA_TYPE = "application/problem+json"


class ProblemError(Exception):
    def __init__(
        self,
        status: int,
        title: str,
        detail: str,
        kind: str = "about:blank",
        errors: list[dict[str, Any]] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.title = title
        self.detail = detail
        self.kind = kind
        self.errors = errors
        self.extra = extra

    def response(self) -> Response:
        body: dict[str, Any] = {
            "type": self.kind if self.kind == "about:blank" else PROBLEM_TYPE + self.kind,
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
            "instance": request.path,
            "error": self.detail,
        }
        if self.errors is not None:
            body["errors"] = self.errors
        body.update(self.extra)
        response = jsonify(body)
        response.status_code = self.status
        response.mimetype = MEDIA_TYPE
        return response


def field_error(field: str, message: str, value: Any, limit: dict[str, Any] | None = None) -> dict[str, Any]:
    entry: dict[str, Any] = {"field": field, "message": message, "value": value}
    if limit:
        entry["limit"] = limit
    return entry


def invalid(errors: list[dict[str, Any]]) -> ProblemError:
    detail = "; ".join(f"{e['field']}: {e['message']} (got {_short(e['value'])})" for e in errors)
    return ProblemError(422, "Request validation failed", detail, kind="validation", errors=errors)


def from_validation_error(exc: ValidationError) -> ProblemError:
    errors = []
    for err in exc.errors(include_url=False):
        field = ".".join(str(part) for part in err["loc"]) or "(body)"
        limit = {k: v for k, v in (err.get("ctx") or {}).items() if k != "error"}
        errors.append(field_error(field, err["msg"], _jsonable(err.get("input")), limit or None))
    return invalid(errors)


def _jsonable(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float | str):
        if isinstance(value, int) and not isinstance(value, bool) and abs(value) > 2**53:
            return str(value)  # huge integers are reported as text so clients don't lose digits
        if (isinstance(value, float) and value != value) or value in (float("inf"), float("-inf")):
            return str(value)
        return value
    if isinstance(value, list | dict):
        text = str(value)
        return text if len(text) <= 200 else text[:200] + "…"
    return str(value)[:200]


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:60] + "…"


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(ProblemError)
    def _problem(exc: ProblemError) -> Response:
        return exc.response()

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException) -> Response:
        status = exc.code or 500
        response = ProblemError(status, exc.name, exc.description or exc.name).response()
        # Keep what the exception says in headers: a 405's Allow (RFC 9110 requires it), a 429's Retry-After.
        for name, value in exc.get_headers(request.environ):
            if name.lower() != "content-type":
                response.headers[name] = value
        return response

    @app.errorhandler(DBAPIError)
    def _store_down(exc: DBAPIError) -> Response:
        # The store is down or unreachable: a condition of the server, worth a retry, not a bug in the request.
        app.logger.warning("store unavailable: %s", type(exc.orig).__name__ if exc.orig else type(exc).__name__)
        response = ProblemError(
            503, "Store unavailable", "the job store cannot be reached; try again shortly", kind="store-unavailable"
        ).response()
        response.headers["Retry-After"] = "5"
        return response

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception) -> Response:
        app.logger.exception("unhandled error")
        return ProblemError(500, "Internal Server Error", "an unexpected error occurred; see the server log").response()
