"""OpenAPI 3.1, generated from the URL map and the pydantic models attached by @documented.

OpenAPI 3.1 uses JSON Schema 2020-12, which is what pydantic emits, so the schemas need no translation: this
module only lays out paths and collects component schemas.

The document describes the server that serves it: a bound that depends on the container (`cores`, `size_mb`) shows
this pod's value as its `maximum`, and the API key requirement appears only when API_KEY is set. Besides what each
view declares, every operation lists the problems the shared machinery can answer (malformed or invalid bodies,
auth, chaos, an unreachable store), so a client or a checker such as schemathesis finds every status documented."""

from __future__ import annotations

import re
from http import HTTPStatus
from typing import Any

from flask import Blueprint, Flask, Response, current_app, jsonify, render_template
from pydantic import BaseModel

from load_harness import __version__
from load_harness.api.models import POD_LIMIT_KEY, Problem
from load_harness.api.validation import Operation
from load_harness.context import ctx
from load_harness.limits import ID_MAX_LENGTH, PodLimits
from load_harness.security.public import chaos_exempt

bp = Blueprint("openapi", __name__)
_PATH_PARAM = re.compile(r"<(?:[a-z]+:)?([a-zA-Z_]+)>")
REF_TEMPLATE = "#/components/schemas/{model}"

# What parse_body can answer for any operation with a JSON body.
BODY_PROBLEMS: dict[int, str] = {
    400: "Malformed JSON (kind malformed-json)",
    413: "The body is larger than the limit",
    422: "A field is missing, of the wrong type or out of bounds (kind validation: `errors` names each field, its "
    "bound and the value)",
}
QUERY_PROBLEMS: dict[int, str] = {422: "A query parameter is unknown, of the wrong type or out of bounds"}
AUTH_PROBLEMS: dict[int, str] = {
    401: "API_KEY is set and the request presented no valid key (X-API-Key or Authorization: Bearer)",
    429: "Too many failed authentication attempts from this address; see Retry-After",
}
CHAOS_PROBLEM = "Injected on purpose while chaos is on (PUT /chaos or FAIL_RATE > 0; kind chaos)"
STORE_PROBLEM = "The job store is unreachable (kind store-unavailable); retry after Retry-After seconds"
URI_PROBLEM = (
    "The request line is longer than the HTTP server accepts (about 4 KiB); answered before the app sees the request, "
    "so not a problem document"
)
# Paths that never read the store, so they cannot answer its 503.
STORELESS_PATHS = frozenset({"/health"})


def machinery_responses(operation: Operation, path: str, has_params: bool = False) -> dict[int, str]:
    """Problems that the request pipeline, not the view, may answer for this operation."""
    found: dict[int, str] = {}
    if has_params:
        found[414] = URI_PROBLEM
    if operation.body is not None:
        found.update(BODY_PROBLEMS)
    if operation.query is not None:
        found.update(QUERY_PROBLEMS)
    if not operation.public:
        found.update(AUTH_PROBLEMS)
    if not chaos_exempt(path):
        found[500] = CHAOS_PROBLEM
    if path not in STORELESS_PATHS:
        found[503] = STORE_PROBLEM
    return found


def apply_pod_limits(schemas: dict[str, Any], limits: PodLimits) -> None:
    """Show this pod's bound as the `maximum` of each field marked with models.pod_limit(name).

    Validation keeps the static ceiling (it cannot know the pod); the handler refuses anything above the pod's
    value with a 422 naming it. The schema says the pod's value, so that a client or a generator of test data
    learns the real bound, and its description says where the number comes from."""
    for schema in schemas.values():
        for name, prop in schema.get("properties", {}).items():
            attribute = prop.get(POD_LIMIT_KEY)
            if attribute is None:
                continue
            value = getattr(limits, attribute)
            target = next((branch for branch in prop.get("anyOf", []) if "maximum" in branch), prop)
            static = target.get("maximum")
            target["maximum"] = value
            prop["description"] = (
                f"{prop.get('description', name)}. The maximum, {value}, is this pod's {attribute}: computed from "
                f"the container's limits when this document was served (the static ceiling is {static})"
            )


def build_spec(app: Flask) -> dict[str, Any]:
    schemas: dict[str, Any] = {}
    paths: dict[str, dict[str, Any]] = {}

    def ref(model: type[BaseModel], mode: str) -> dict[str, Any]:
        schema = model.model_json_schema(ref_template=REF_TEMPLATE, mode=mode)  # type: ignore[arg-type]
        schemas.update(schema.pop("$defs", {}))
        schemas[model.__name__] = schema
        return {"$ref": REF_TEMPLATE.format(model=model.__name__)}

    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        operation: Operation | None = getattr(app.view_functions.get(rule.endpoint), "__api_operation__", None)
        if operation is None:
            continue
        path = _PATH_PARAM.sub(r"{\1}", rule.rule)
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            op: dict[str, Any] = {
                "summary": operation.summary,
                "operationId": f"{rule.endpoint}_{method.lower()}",
            }
            if operation.tags:
                op["tags"] = operation.tags
            params = [
                # Ids fit the store's key columns; a longer one can only be not found.
                {"name": name, "in": "path", "required": True, "schema": {"type": "string", "maxLength": ID_MAX_LENGTH}}
                for name in _PATH_PARAM.findall(rule.rule)
            ]
            if operation.query is not None:
                for name, prop in operation.query.model_json_schema()["properties"].items():
                    params.append({"name": name, "in": "query", "required": False, "schema": prop})
            if params:
                op["parameters"] = params
            if operation.body is not None:
                op["requestBody"] = {
                    # Optional: no body means all the defaults, as in the original API. A body must be JSON
                    # (415 otherwise), and so must an empty one that a browser sends (validation.require_json).
                    "required": False,
                    "content": {"application/json": {"schema": ref(operation.body, "validation")}},
                }
            pipeline = machinery_responses(operation, path, has_params=bool(params))
            declared: dict[int, type[BaseModel] | str] = {**pipeline, **operation.responses}
            responses: dict[str, Any] = {}
            for status, model in sorted(declared.items()):
                if status == 414:
                    responses[str(status)] = {"description": model}
                elif isinstance(model, str) and status >= 400:
                    # Every error is a problem document, whether the view or the pipeline answers it.
                    responses[str(status)] = {
                        "description": model,
                        "content": {"application/problem+json": {"schema": ref(Problem, "serialization")}},
                    }
                elif isinstance(model, str):
                    responses[str(status)] = {"description": model}
                elif model is Problem:
                    responses[str(status)] = {
                        "description": pipeline.get(status) or HTTPStatus(status).phrase,
                        "content": {"application/problem+json": {"schema": ref(model, "serialization")}},
                    }
                else:
                    media = "application/problem+json" if model.__name__ == "Problem" else "application/json"
                    responses[str(status)] = {
                        "description": model.__doc__ or model.__name__,
                        "content": {media: {"schema": ref(model, "serialization")}},
                    }
            if operation.body is not None:
                # parse_body refuses any other type, even for an empty body (validation.require_json).
                responses.setdefault(
                    "415",
                    {
                        "description": "The body is not declared as Content-Type: application/json",
                        "content": {"application/problem+json": {"schema": ref(Problem, "serialization")}},
                    },
                )
            responses.setdefault("200", {"description": "OK"})
            op["responses"] = responses
            if operation.public:
                op["security"] = []
            paths.setdefault(path, {})[method.lower()] = op

    context = ctx()
    apply_pod_limits(schemas, context.limits)
    # Without API_KEY nothing needs a key: saying otherwise would be false (and checkers would rightly flag it).
    security: list[dict[str, list[str]]] = [{"apiKey": []}, {"bearer": []}] if context.settings.api_key else []
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "LoadHarness API",
            "version": __version__,
            "description": "Workload target, load driver and observer. Errors are RFC 9457 problem details.",
        },
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "apiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
                "bearer": {"type": "http", "scheme": "bearer"},
            },
        },
        "security": security,
    }


@bp.get("/openapi.json")
def openapi_json() -> Response:
    spec = current_app.extensions.get("openapi_spec")
    if spec is None:
        spec = current_app.extensions["openapi_spec"] = build_spec(current_app)
    return jsonify(spec)


@bp.get("/apispec.json")
def apispec_json() -> Response:
    """The original's spec path, kept so existing links work."""
    return openapi_json()


@bp.get("/apidocs")
@bp.get("/apidocs/")
def apidocs() -> str:
    return render_template("apidocs/index.html")
