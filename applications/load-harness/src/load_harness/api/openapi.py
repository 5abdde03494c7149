"""OpenAPI 3.1, generated from the URL map and the pydantic models attached by @documented.

OpenAPI 3.1 uses JSON Schema 2020-12, which is what pydantic emits, so the schemas need no translation: this
module only lays out paths and collects component schemas."""

from __future__ import annotations

import re
from typing import Any

from flask import Blueprint, Flask, Response, current_app, jsonify, render_template
from pydantic import BaseModel

from load_harness import __version__
from load_harness.api.validation import Operation

bp = Blueprint("openapi", __name__)
_PATH_PARAM = re.compile(r"<(?:[a-z]+:)?([a-zA-Z_]+)>")
REF_TEMPLATE = "#/components/schemas/{model}"


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
                {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
                for name in _PATH_PARAM.findall(rule.rule)
            ]
            if operation.query is not None:
                for name, prop in operation.query.model_json_schema()["properties"].items():
                    params.append({"name": name, "in": "query", "required": False, "schema": prop})
            if params:
                op["parameters"] = params
            if operation.body is not None:
                op["requestBody"] = {
                    "required": False,
                    "content": {"application/json": {"schema": ref(operation.body, "validation")}},
                }
            responses: dict[str, Any] = {}
            for status, model in sorted(operation.responses.items()):
                if isinstance(model, str):
                    responses[str(status)] = {"description": model}
                else:
                    media = "application/problem+json" if model.__name__ == "Problem" else "application/json"
                    responses[str(status)] = {
                        "description": model.__doc__ or model.__name__,
                        "content": {media: {"schema": ref(model, "serialization")}},
                    }
            responses.setdefault("200", {"description": "OK"})
            op["responses"] = responses
            if operation.public:
                op["security"] = []
            paths.setdefault(path, {})[method.lower()] = op

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
        "security": [{"apiKey": []}, {"bearer": []}],
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
