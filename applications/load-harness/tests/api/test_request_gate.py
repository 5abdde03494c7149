"""What happens to a request before any view runs: the Host check, the cross-site check, auth, then chaos; and
the JSON content type parse_body requires. Each test replays an attack that worked before these checks."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from load_harness.api import chaos
from load_harness.security import auth, public
from load_harness.settings import Settings
from pydantic import ValidationError

KEY = "s3cret"
FLAGGER = {"name": "podinfo", "namespace": "test", "metadata": {"url": "http://127.0.0.1:8080/", "duration": "5s"}}
JOB = {"size_mb": 8, "duration_seconds": 5}


def record_sleeps(app: Flask) -> list[float]:
    """Swap the chaos sleep for a recorder: no test waits, and each entry is one request that would have."""
    slept: list[float] = []
    chaos.sleeper(app).sleep = slept.append
    return slept


def memory_jobs(client: FlaskClient, **headers: str) -> int:
    total: int = client.get("/load/memory/status", headers=headers).get_json()["total_jobs"]
    return total


def problem_type(response: Any) -> str:
    assert response.mimetype == "application/problem+json", response.get_data(as_text=True)
    kind: str = response.get_json()["type"]
    return kind.rsplit("/", 1)[-1]


# --- chaos runs only after auth, and never on a public path -------------------------------------------------


def test_unauthenticated_requests_never_wait_on_chaos(app_factory: Callable[..., Flask]) -> None:
    app = app_factory(api_key=KEY, fail_latency_ms=30_000)
    slept = record_sleeps(app)
    client = app.test_client()
    # The reported attack: anonymous POSTs to the Flagger webhook (public: it checks metadata.token itself) each
    # held a thread for 30 s, until /health stopped answering.
    for _ in range(40):
        assert client.post("/flagger/load-test", json=FLAGGER).status_code == 401
    assert client.post("/load/memory", json=JOB).status_code == 401
    assert client.get("/version", headers={"X-API-Key": "wrong"}).status_code == 401
    assert client.get("/ui/").status_code == 302  # to the login page
    for path in ("/health", "/ready", "/metrics", "/openapi.json", "/apidocs/", "/ui/login"):
        assert client.get(path).status_code == 200, path
    assert slept == []
    # Authenticated requests still get the latency they asked for.
    assert client.get("/version", headers={"X-API-Key": KEY}).status_code == 200
    assert slept == [30.0]


def test_injected_failures_wait_for_auth_too(app_factory: Callable[..., Flask]) -> None:
    client = app_factory(api_key=KEY, fail_rate=1.0).test_client()
    assert client.get("/version").status_code == 401
    assert client.post("/flagger/load-test", json=FLAGGER).status_code == 401
    injected = client.get("/version", headers={"X-API-Key": KEY})
    assert injected.status_code == 500
    assert problem_type(injected) == "chaos"


def test_without_a_key_chaos_still_applies_but_never_to_public_paths(app_factory: Callable[..., Flask]) -> None:
    app = app_factory(fail_latency_ms=250)
    slept = record_sleeps(app)
    client = app.test_client()
    assert client.post("/flagger/load-test", json={}).status_code == 422  # public: validated, never delayed
    assert client.get("/health").status_code == 200
    assert client.get("/chaos").status_code == 200  # chaos can always be switched off
    assert slept == []
    assert client.get("/version").status_code == 200
    assert slept == [0.25]


def test_auth_and_chaos_read_one_list_of_public_paths() -> None:
    assert auth.is_public is public.is_public
    assert not hasattr(chaos, "EXEMPT_PREFIXES")
    for path in (*public.PUBLIC_EXACT, "/apidocs/", "/static/dashboard/app.js"):
        assert public.is_public(path)
        assert public.chaos_exempt(path), path
    for path in ("/version", "/load/cpu", "/runs", "/jobs/x"):
        assert not public.is_public(path)
        assert not public.chaos_exempt(path), path


def test_chaos_sleeps_are_bounded_per_worker() -> None:
    """A delayed request holds a thread; beyond the bound the request is served without the delay."""
    release = threading.Event()
    entered = threading.Semaphore(0)

    def blocking_sleep(_seconds: float) -> None:
        entered.release()
        assert release.wait(10)

    sleeper = chaos.ChaosSleeper(chaos.sleep_limit(threads=4), sleep=blocking_sleep)
    assert sleeper.limit == 2
    holders = [threading.Thread(target=sleeper.delay, args=(30.0,)) for _ in range(2)]
    for holder in holders:
        holder.start()
    for _ in holders:
        assert entered.acquire(timeout=10)
    assert sleeper.delay(30.0) is False  # both slots are taken: no third thread is held
    release.set()
    for holder in holders:
        holder.join(10)
    sleeper.sleep = lambda _seconds: None
    assert sleeper.delay(30.0) is True  # the slots came back
    assert chaos.sleep_limit(threads=1) == 1


def test_the_app_bounds_chaos_to_half_its_threads(app_factory: Callable[..., Flask]) -> None:
    assert chaos.sleeper(app_factory(threads=16)).limit == 8


# --- JSON endpoints take JSON only ----------------------------------------------------------------------------


def body_operations(app: Flask) -> list[tuple[str, str]]:
    found = []
    for rule in app.url_map.iter_rules():
        operation = getattr(app.view_functions[rule.endpoint], "__api_operation__", None)
        if operation is not None and operation.body is not None:
            found += [(method, rule.rule) for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"})]
    return found


def test_a_text_plain_post_does_not_start_a_job(client: FlaskClient) -> None:
    # What a page on any site can send without a preflight: text/plain whose text happens to be JSON.
    refused = client.post("/load/memory", data='{"size_mb": 8, "duration_seconds": 5}', content_type="text/plain")
    assert refused.status_code == 415
    assert problem_type(refused) == "unsupported-media-type"
    assert "application/json" in refused.get_json()["detail"]
    assert memory_jobs(client) == 0


@pytest.mark.parametrize(
    "sent",
    [
        {"data": '{"cpu_ms": 1}', "content_type": "text/plain"},
        {"data": {"cpu_ms": "1"}},  # a form: application/x-www-form-urlencoded
        {"data": "cpu_ms=1", "content_type": "multipart/form-data; boundary=x"},
        {"headers": {"Sec-Fetch-Site": "same-origin"}},  # no body and no type, from a browser
        {"headers": {"Origin": "http://localhost"}},  # the same, from an older browser
    ],
    ids=["text-plain", "form", "multipart", "empty-untyped-browser", "empty-untyped-origin"],
)
def test_every_body_endpoint_refuses_what_a_page_can_send_without_preflight(
    client: FlaskClient, sent: dict[str, Any]
) -> None:
    operations = body_operations(client.application)
    assert ("POST", "/load/cpu") in operations
    assert ("DELETE", "/chaos") in operations
    for method, path in operations:
        response = client.open(path, method=method, **sent)
        assert response.status_code == 415, (method, path, response.get_data(as_text=True))
    assert memory_jobs(client) == 0
    assert client.get("/chaos").get_json()["fail_rate"] == 0.0


def test_a_script_may_post_no_body_at_all_as_the_original_api_allowed(client: FlaskClient) -> None:
    # `curl -XPOST /load/cpu/stop`: no body, no Content-Type, none of the headers a browser adds to a POST.
    stopped = client.post("/load/cpu/stop")
    assert stopped.status_code == 200, stopped.get_data(as_text=True)
    assert client.post("/load/cpu/stop", data="x").status_code == 415  # a body still needs its type


def test_json_bodies_still_work_empty_or_with_a_charset(client: FlaskClient) -> None:
    assert client.post("/load/cpu/stop", data="", content_type="application/json").status_code == 200
    typed = client.put("/chaos", data='{"fail_rate": 0.5}', content_type="application/json; charset=utf-8")
    assert typed.status_code == 200
    assert typed.get_json()["fail_rate"] == 0.5
    assert client.delete("/chaos", json={}).status_code == 200


def test_openapi_documents_415_for_every_body(client: FlaskClient) -> None:
    spec = client.get("/openapi.json").get_json()
    with_body = [
        (path, method, op) for path, item in spec["paths"].items() for method, op in item.items() if "requestBody" in op
    ]
    assert with_body
    for path, method, op in with_body:
        documented = op["responses"].get("415")
        assert documented is not None, (method, path)
        assert "application/problem+json" in documented["content"]


# --- unsafe methods refuse cross-site requests ----------------------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "http://attacker.example"},
        {"Origin": "null"},  # a sandboxed frame, or a redirect from another site
        {"Origin": "https://localhost"},  # another scheme is another origin
        {"Origin": "http://localhost:8081"},  # and so is another port
        {"Sec-Fetch-Site": "cross-site"},
        {"Sec-Fetch-Site": "same-site"},  # another port on localhost is the same site, not the same origin
        {"Sec-Fetch-Site": "cross-site", "Origin": "http://localhost"},
    ],
)
def test_cross_site_writes_are_refused(client: FlaskClient, headers: dict[str, str]) -> None:
    refused = client.post("/load/memory", json=JOB, headers=headers)
    assert refused.status_code == 403
    assert problem_type(refused) == "cross-site"
    assert client.put("/chaos", json={"fail_rate": 1.0}, headers=headers).status_code == 403
    assert memory_jobs(client) == 0
    assert client.get("/chaos").get_json()["fail_rate"] == 0.0
    # Reading is not refused: a cross-site GET cannot read the answer, and links must keep working.
    assert client.get("/version", headers=headers).status_code == 200


@pytest.mark.parametrize(
    "headers",
    [
        {},  # curl, scripts, the driver, Flagger
        {"Origin": "http://localhost", "Sec-Fetch-Site": "same-origin"},  # this server's own pages
        {"Origin": "http://localhost:80"},  # the default port, spelt out
        {"Sec-Fetch-Site": "none"},  # the user typed it
    ],
)
def test_same_origin_and_non_browser_writes_pass(client: FlaskClient, headers: dict[str, str]) -> None:
    started = client.post("/load/memory", json={"size_mb": 1, "duration_seconds": 1}, headers=headers)
    assert started.status_code == 200, started.get_data(as_text=True)
    assert memory_jobs(client) == 1


def test_origin_is_compared_with_what_the_proxy_forwarded(app_factory: Callable[..., Flask]) -> None:
    forwarded = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "lh.example", "Origin": "https://lh.example"}
    behind_proxy = app_factory(trusted_proxy_hops=1, allowed_hosts="lh.example").test_client()
    assert behind_proxy.post("/load/cpu/stop", json={}, headers=forwarded).status_code == 200
    # Without TRUSTED_PROXY_HOPS the forwarded headers do not count: the server is http://localhost.
    direct = app_factory(allowed_hosts="lh.example").test_client()
    assert direct.post("/load/cpu/stop", json={}, headers=forwarded).status_code == 403


def test_the_dashboard_forms_pass_from_its_own_origin_only(app_factory: Callable[..., Flask]) -> None:
    client = app_factory().test_client()
    page = client.get("/ui/").get_data(as_text=True)
    token = page.split('name="csrf-token" content="', 1)[1].split('"', 1)[0]
    form = {"cores": "1", "csrf_token": token}
    own = {"Origin": "http://localhost", "Sec-Fetch-Site": "same-origin", "HX-Request": "true"}
    assert client.post("/ui/cpu/validate?field=cores", data=form, headers=own).status_code == 200
    # A valid CSRF token does not make a cross-site request acceptable.
    cross = {**own, "Origin": "http://attacker.example", "Sec-Fetch-Site": "cross-site"}
    assert client.post("/ui/cpu/validate?field=cores", data=form, headers=cross).status_code == 403


# --- only the server's own host names are answered (DNS rebinding) -------------------------------------------


def test_a_rebound_host_is_refused(client: FlaskClient) -> None:
    # A page on attacker.example re-points its name at 127.0.0.1: same origin to the browser, so no Origin check
    # helps; only the Host says whose page it is.
    headers = {"Host": "attacker.example:8080"}
    refused = client.post("/load/memory", json=JOB, headers={**headers, "Origin": "http://attacker.example:8080"})
    assert refused.status_code == 421
    assert problem_type(refused) == "unknown-host"
    assert refused.get_json()["host"] == "attacker.example:8080"
    assert "ALLOWED_HOSTS" in refused.get_json()["detail"]
    assert client.get("/version", headers=headers).status_code == 421  # nor may it read anything
    assert client.get("/metrics", headers=headers).status_code == 421
    assert memory_jobs(client) == 0


def test_probes_answer_whatever_the_host(client: FlaskClient) -> None:
    for path in ("/health", "/ready"):
        assert client.get(path, headers={"Host": "attacker.example"}).status_code == 200, path


LOCAL_HOSTS = [
    "localhost",
    "localhost:8080",
    "127.0.0.1:5000",
    "127.0.0.2",
    "[::1]:8080",
    "LOCALHOST.",
    "test-pod:8080",
]
FOREIGN_HOSTS = [
    "attacker.example",
    "10.1.2.3:8080",  # loopback only, locally
    "load-harness.apps.svc.cluster.local",
    "evil.example@localhost",
    "localhost.attacker.example",
    "local host",
    "[::1",
]


@pytest.mark.parametrize("host", LOCAL_HOSTS)
def test_local_mode_answers_loopback_and_its_own_name(client: FlaskClient, host: str) -> None:
    assert client.get("/version", headers={"Host": host}).status_code == 200, host


@pytest.mark.parametrize("host", FOREIGN_HOSTS)
def test_local_mode_refuses_other_hosts(client: FlaskClient, host: str) -> None:
    assert client.get("/version", headers={"Host": host}).status_code == 421, host


CLUSTER = {
    "environment": "kubernetes",
    "pod_name": "load-harness-7d9f-abcde",
    "service_url": "http://load-harness.apps.svc.cluster.local:8080",
}


@pytest.mark.parametrize(
    "host",
    [
        "10.1.2.3:8080",  # the kubelet and Prometheus, by pod IP
        "[fd00::12]:8080",
        "load-harness-7d9f-abcde:8080",  # the pod's own name
        "load-harness.apps.svc.cluster.local:8080",  # SERVICE_URL
        "load-harness.apps:8080",  # the Service's short names: Flagger, pods in other namespaces
        "load-harness",
        "podinfo-canary.test.svc",  # only the cluster's DNS resolves *.svc names
        "localhost:8080",  # kubectl port-forward
    ],
)
def test_cluster_mode_answers_probes_services_and_ips(app_factory: Callable[..., Flask], host: str) -> None:
    assert app_factory(**CLUSTER).test_client().get("/version", headers={"Host": host}).status_code == 200


def test_cluster_mode_refuses_other_names_unless_listed(app_factory: Callable[..., Flask]) -> None:
    refused = app_factory(**CLUSTER).test_client()
    assert refused.get("/version", headers={"Host": "attacker.example"}).status_code == 421
    assert refused.get("/version", headers={"Host": "apps"}).status_code == 421
    listed = app_factory(**CLUSTER, allowed_hosts="lh.example.com:443, *.lh.example.com").test_client()
    assert listed.get("/version", headers={"Host": "lh.example.com:443"}).status_code == 200
    assert listed.get("/version", headers={"Host": "lh.example.com:8443"}).status_code == 421  # the port is pinned
    assert listed.get("/version", headers={"Host": "eu.lh.example.com"}).status_code == 200
    assert listed.get("/version", headers={"Host": "attacker.example"}).status_code == 421


def test_allowed_hosts_star_answers_any_host(app_factory: Callable[..., Flask]) -> None:
    client = app_factory(allowed_hosts="*").test_client()
    assert client.get("/version", headers={"Host": "anything.example"}).status_code == 200


def test_allowed_hosts_must_be_hosts_not_urls() -> None:
    with pytest.raises(ValidationError, match="ALLOWED_HOSTS"):
        Settings(allowed_hosts="https://lh.example")


# --- what responses tell ---------------------------------------------------------------------------------------


def test_worker_pid_is_sent_only_when_asked_for(app_factory: Callable[..., Flask]) -> None:
    assert "X-Worker-PID" not in app_factory().test_client().get("/health").headers
    exposed = app_factory(expose_worker_pid=True).test_client().get("/health")
    assert exposed.headers["X-Worker-PID"].isdigit()
