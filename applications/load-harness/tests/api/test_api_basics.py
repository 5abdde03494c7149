"""Compatibility endpoints, headers, auth and the OpenAPI document."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from flask import Flask
from flask.testing import FlaskClient
from load_harness.settings import Settings


def test_compat_endpoints(client: FlaskClient) -> None:
    assert client.get("/health").get_json()["status"] == "healthy"
    assert client.get("/ready").get_json()["status"] == "ready"
    root = client.get("/").get_json()
    assert {"message", "timestamp", "version", "environment"} <= set(root)
    version = client.get("/version").get_json()
    assert version["deployment"]["pod_name"] == "test-pod"
    assert "python_version" in version["build"]
    info = client.get("/system/info").get_json()
    assert {"cpu_cores", "cpu_cores_physical", "memory_total_mb", "memory_available_mb"} <= set(info)
    assert info["available_cores"] > 0
    assert "cpu_quota_millicores" in info
    assert "memory_limit_mb" in info


def test_every_response_carries_pod_name_and_security_headers(client: FlaskClient) -> None:
    for path in ("/health", "/nowhere", "/version"):
        response = client.get(path)
        assert response.headers["X-Pod-Name"] == "test-pod"
        csp = response.headers["Content-Security-Policy"]
        assert "unsafe-inline" not in csp
        assert "frame-ancestors 'none'" in csp
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["Referrer-Policy"]


def test_api_key_required_except_public_paths(app_factory: Callable[..., Flask]) -> None:
    app = app_factory(api_key="s3cret")
    client = app.test_client()
    for public in ("/health", "/ready", "/metrics", "/openapi.json", "/apidocs"):
        assert client.get(public).status_code == 200, public
    denied = client.get("/version")
    assert denied.status_code == 401
    assert denied.mimetype == "application/problem+json"
    assert client.get("/version", headers={"X-API-Key": "wrong"}).status_code == 401
    assert client.get("/version", headers={"X-API-Key": "s3cret"}).status_code == 200
    assert client.get("/version", headers={"Authorization": "Bearer s3cret"}).status_code == 200
    assert client.post("/load/cpu", json={"cores": 1}).status_code == 401


def test_api_key_from_file(tmp_path: Path, app_factory: Callable[..., Flask]) -> None:
    key_file = tmp_path / "key"
    key_file.write_text("from-file\n")
    client = app_factory(api_key_file=key_file).test_client()
    assert client.get("/version").status_code == 401
    assert client.get("/version", headers={"X-API-Key": "from-file"}).status_code == 200


def test_database_url_from_file(tmp_path: Path) -> None:
    # The URL holds the password: read from a mounted Secret file, never required in the environment.
    url_file = tmp_path / "url"
    url_file.write_text(f"sqlite:///{tmp_path / 'from-file.db'}\n")
    settings = Settings(database_url_file=url_file)
    assert settings.resolved_database_url == f"sqlite:///{tmp_path / 'from-file.db'}"
    assert Settings(database_url="sqlite:///given.db", database_url_file=url_file).database_url == "sqlite:///given.db"


def test_openapi_document_is_generated_from_models(client: FlaskClient) -> None:
    spec = client.get("/openapi.json").get_json()
    assert spec["openapi"].startswith("3.1")
    cpu = spec["paths"]["/load/cpu"]["post"]
    ref = cpu["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    schema = spec["components"]["schemas"][ref.rsplit("/", 1)[1]]
    assert schema["properties"]["utilization"]["anyOf"][0]["maximum"] == 100
    assert schema["additionalProperties"] is False
    assert spec["paths"]["/health"]["get"]["security"] == []
    assert "/jobs/{job_id}" in spec["paths"]


def test_swagger_ui_is_vendored(client: FlaskClient) -> None:
    page = client.get("/apidocs").get_data(as_text=True)
    assert "cdn" not in page.lower()
    assert "<script>" not in page  # no inline script: the CSP forbids it
    assert client.get("/static/vendor/swagger-ui/swagger-ui-bundle.js").status_code == 200
    assert client.get("/static/apidocs/init.js").status_code == 200


def test_chaos_errors_and_latency_spare_probes(client: FlaskClient) -> None:
    assert client.put("/chaos", json={"fail_rate": 1.0, "latency_ms": 0}).status_code == 200
    assert client.get("/version").status_code == 500
    assert client.get("/version").get_json()["type"].endswith("chaos")
    for exempt in ("/health", "/ready", "/metrics", "/openapi.json", "/chaos"):
        assert client.get(exempt).status_code == 200, exempt
    assert client.delete("/chaos", json={}).status_code == 200
    assert client.get("/version").status_code == 200


def test_chaos_defaults_from_environment(app_factory: Callable[..., Flask]) -> None:
    client = app_factory(fail_rate=1.0, fail_latency_ms=30).test_client()
    chaos = client.get("/chaos").get_json()
    assert chaos["fail_rate"] == 1.0
    assert chaos["latency_ms"] == 30
    assert client.get("/version").status_code == 500
    assert client.get("/health").status_code == 200


def test_metrics_exposes_documented_names(client: FlaskClient) -> None:
    client.get("/version")
    text = client.get("/metrics").get_data(as_text=True)
    for name in (
        "flask_http_request_total",
        "flask_http_request_duration_seconds_bucket",
        "load_harness_jobs_active",
        "load_harness_cpu_cores_burning",
        "load_harness_memory_held_bytes",
        "load_harness_build_info",
        "load_harness_container_cpu_limit_cores",
    ):
        assert name in text, name
    assert 'path="/version"' in text


def test_proxy_headers_only_when_configured(app_factory: Callable[..., Flask]) -> None:
    forwarded = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "lh.example"}
    untrusted = app_factory().test_client().get("/", headers=forwarded).get_json()
    assert untrusted["docs"] == "http://localhost/apidocs/"
    # The forwarded host is the one the Host check sees, so the proxy's public name must be allowed.
    proxied = app_factory(trusted_proxy_hops=1, allowed_hosts="lh.example")
    trusted = proxied.test_client().get("/", headers=forwarded).get_json()
    assert trusted["docs"] == "https://lh.example/apidocs/"


def test_session_authenticated_api_calls_need_the_csrf_token(app_factory: Callable[..., Flask]) -> None:
    from load_harness.context import ctx
    from load_harness.security import sessions

    app = app_factory(api_key="k")
    client = app.test_client()
    with app.app_context():  # a real server-side session, as a dashboard login creates
        settings = ctx().settings
        session_id = sessions.current().issue(sessions.key_fingerprint(settings.secret_key, settings.api_key), 3600)
    with client.session_transaction() as session:
        session[sessions.SESSION_ID] = session_id
        session["csrf_token"] = "tok"
    assert client.get("/load/cpu/status").status_code == 200  # reading needs no token
    refused = client.post("/load/cpu/stop", json={})
    assert refused.status_code == 403
    assert refused.get_json()["type"].endswith("csrf")
    assert client.post("/load/cpu/stop", json={}, headers={"X-CSRF-Token": "tok"}).status_code == 200
    # A script with the key is not a browser and needs no token.
    assert (
        app_factory(api_key="k").test_client().post("/load/cpu/stop", json={}, headers={"X-API-Key": "k"}).status_code
        == 200
    )


def test_ready_is_false_while_the_store_is_unreachable() -> None:
    from load_harness.app import create_app
    from load_harness.server.launch import free_port
    from load_harness.settings import Settings

    unreachable = f"postgresql://lh@127.0.0.1:{free_port()}/lh"  # nothing listens there
    client = create_app(Settings(database_url=unreachable, pod_name="p")).test_client()
    assert client.get("/health").status_code == 200  # liveness does not depend on the store
    ready = client.get("/ready")
    assert ready.status_code == 503
    assert "store unreachable" in ready.get_json()["reasons"]
    # A request that needs the store says so, with a retry hint, instead of a generic 500.
    status = client.get("/load/cpu/status")
    assert status.status_code == 503
    assert status.mimetype == "application/problem+json"
    assert status.headers["Retry-After"] == "5"


def test_memory_sync_allocates_and_respects_the_container_bound(client: FlaskClient) -> None:
    done = client.post("/load/memory/sync", json={"size_mb": 8, "duration_ms": 10}).get_json()
    assert done["actual_bytes_allocated"] == 8 * 2**20
    assert done["actual_duration_ms"] >= 10
    limit = client.get("/system/info").get_json()["limits"]["memory_max_mb"]
    # On a host with more than 64 GiB the static bound (MEMORY_MB_MAX) is the smaller one; never allocate it.
    too_big = client.post("/load/memory/sync", json={"size_mb": limit + 1, "duration_ms": 10})
    assert too_big.status_code == 422
    assert too_big.get_json()["errors"][0]["limit"] == {"le": limit}
