"""Fuzz every documented operation with hostile JSON built from its own schema: no input may produce a 500.

Values mix the right types, wrong types, booleans, huge and negative numbers, deep nesting, long and odd
strings. The seed is fixed, so a failure reproduces."""

from __future__ import annotations

import json
import random
from typing import Any

import pytest
from flask.testing import FlaskClient

NASTY: list[Any] = [
    None, True, False, 0, -1, 1, 2**63, -(2**63), 10**400, 1.5, -0.0, 1e308, "", "0", "1", "x" * 5000,
    "\x00", "é\u202e", "<script>alert(1)</script>", "'; DROP TABLE jobs; --", [], [1, 2], {}, {"a": {"b": [None]}},
    "http://169.254.169.254/", "p99<", "10s:abc", "../../etc/passwd",
]  # fmt: skip
MUTATING = {"post", "put", "delete", "patch"}
SKIP_PATHS = {"/load/memory/sync"}  # allocates the requested memory for real; covered by its own bound tests


def operations(client: FlaskClient) -> list[tuple[str, str, list[str]]]:
    spec = client.get("/openapi.json").get_json()
    found = []
    for path, methods in spec["paths"].items():
        if "{" in path or path in SKIP_PATHS:
            continue
        for method, op in methods.items():
            body = op.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema", {})
            fields: list[str] = []
            if "$ref" in body:
                schema = spec["components"]["schemas"][body["$ref"].rsplit("/", 1)[1]]
                fields = list(schema.get("properties", {}))
            found.append((method, path, fields))
    return found


def hostile_body(rng: random.Random, fields: list[str]) -> Any:
    roll = rng.random()
    if roll < 0.05:
        return rng.choice(NASTY)  # not an object at all
    body = {name: rng.choice(NASTY) for name in fields if rng.random() < 0.6}
    if rng.random() < 0.2:
        body[rng.choice(["bogus", "__proto__", "cores ", ""])] = rng.choice(NASTY)
    return body


def test_no_input_produces_a_500(client: FlaskClient) -> None:
    rng = random.Random(20261126)
    ops = operations(client)
    assert len(ops) >= 10
    for method, path, fields in ops:
        if method not in MUTATING:
            continue
        for _ in range(150):
            body = hostile_body(rng, fields)
            raw = json.dumps(body) if rng.random() < 0.9 else json.dumps(body)[: rng.randint(0, 20)]
            response = client.open(path, method=method.upper(), data=raw, content_type="application/json")
            assert response.status_code < 500, (method, path, raw[:300], response.get_data(as_text=True)[:300])
            if path == "/chaos":
                client.delete("/chaos", json={})  # an accepted fail_rate would inject 500s into what follows
        client.post("/load/cpu/stop", json={})
        client.post("/load/memory/stop", json={})


@pytest.mark.parametrize("path", ["/load/cpu/status", "/runs", "/load/memory/status"])
def test_hostile_query_strings(client: FlaskClient, path: str) -> None:
    for query in ("limit=-1", "limit=99999999999999999999", "limit=1e3", "status=%00", "limit=&status=", "x=1"):
        assert client.get(f"{path}?{query}").status_code < 500, query
