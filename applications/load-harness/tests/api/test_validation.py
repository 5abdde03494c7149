"""Bad input never produces a 500: malformed JSON is a 400, everything else a 422 problem naming the field."""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient

PROBLEM = "application/problem+json"


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/load/cpu", {"cores": "2"}, "cores"),
        ("/load/cpu", {"cores": True}, "cores"),
        ("/load/cpu", {"cores": 1.5}, "cores"),
        ("/load/cpu", {"cores": 0}, "cores"),
        ("/load/cpu", {"cores": 10**40}, "cores"),
        ("/load/cpu", {"duration_seconds": -1}, "duration_seconds"),
        ("/load/cpu", {"utilization": 101}, "utilization"),
        ("/load/cpu", {"utilization": False}, "utilization"),
        ("/load/cpu", {"intensity": 11}, "intensity"),
        ("/load/cpu", {"core": 1}, "core"),
        ("/load/memory", {"size_mb": 10**9}, "size_mb"),
        ("/load/memory", {"size_mb": None}, "size_mb"),
        ("/load/memory", {"duration_seconds": [1]}, "duration_seconds"),
        ("/load/cpu/work", {"iterations": 999}, "iterations"),
        ("/load/cpu/work", {"cpu_ms": 1e9}, "cpu_ms"),
        ("/load/cpu/work", {"cpu_ms": True}, "cpu_ms"),
        ("/load/memory/sync", {"duration_ms": 0}, "duration_ms"),
        ("/load/cpu/stop", {"job_id": 5}, "job_id"),
        ("/chaos", {"fail_rate": 2}, "fail_rate"),
    ],
)
def test_invalid_fields_get_422_naming_field_bound_and_value(
    client: FlaskClient, path: str, body: dict[str, object], field: str
) -> None:
    method = client.put if path == "/chaos" else client.post
    response = method(path, json=body)
    assert response.status_code == 422, response.get_data(as_text=True)
    assert response.mimetype == PROBLEM
    problem = response.get_json()
    assert problem["status"] == 422
    fields = [e["field"] for e in problem["errors"]]
    assert field in fields
    error = problem["errors"][fields.index(field)]
    assert "value" in error
    assert field in problem["detail"]


def test_bound_is_named(client: FlaskClient) -> None:
    problem = client.post("/load/cpu", json={"utilization": 150}).get_json()
    error = problem["errors"][0]
    assert error["limit"] == {"le": 100}
    assert error["value"] == 150


def test_dynamic_core_bound_names_available_cores(client: FlaskClient) -> None:
    problem = client.post("/load/cpu", json={"cores": 64, "duration_seconds": 5}).get_json()
    assert problem["status"] == 422
    assert "available cores" in problem["detail"]
    assert problem["errors"][0]["limit"]["le"] < 64


@pytest.mark.parametrize(
    "raw",
    [b"{", b"not json", b'{"cores": NaN}', b'{"cores": Infinity}', b"[" * 50_000, b"\xff\xfe"],
)
def test_malformed_json_is_400(client: FlaskClient, raw: bytes) -> None:
    response = client.post("/load/cpu", data=raw, content_type="application/json")
    assert response.status_code == 400
    assert response.mimetype == PROBLEM
    assert response.get_json()["status"] == 400


@pytest.mark.parametrize("raw", [b"[]", b'"x"', b"5", b"null"])
def test_non_object_json_is_422(client: FlaskClient, raw: bytes) -> None:
    response = client.post("/load/cpu", data=raw, content_type="application/json")
    assert response.status_code == 422


def test_huge_body_is_refused(client: FlaskClient) -> None:
    response = client.post("/load/cpu", data=b'{"x": "' + b"a" * 200_000 + b'"}', content_type="application/json")
    assert response.status_code == 413


def test_both_work_measures_refused(client: FlaskClient) -> None:
    response = client.post("/load/cpu/work", json={"iterations": 1000, "cpu_ms": 1})
    assert response.status_code == 422
    assert "either" in response.get_json()["detail"]


def test_query_limits(client: FlaskClient) -> None:
    assert client.get("/load/cpu/status?limit=0").status_code == 422
    assert client.get("/load/cpu/status?limit=abc").status_code == 422
    assert client.get("/load/cpu/status?status=weird").status_code == 422
    assert client.get("/load/cpu/status?bogus=1").status_code == 422
    assert client.get("/load/cpu/status?limit=5").status_code == 200


def test_unknown_job_stop_is_404(client: FlaskClient) -> None:
    response = client.post("/load/cpu/stop", json={"job_id": "job_nope"})
    assert response.status_code == 404
    assert response.mimetype == PROBLEM
    assert client.get("/jobs/job_nope").status_code == 404


def test_wrong_method_and_unknown_path_are_problems(client: FlaskClient) -> None:
    assert client.get("/load/cpu").status_code == 405
    assert client.get("/load/cpu").mimetype == PROBLEM
    assert client.get("/nowhere").status_code == 404
    assert client.get("/nowhere").mimetype == PROBLEM
