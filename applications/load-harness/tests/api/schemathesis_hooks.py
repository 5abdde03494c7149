"""schemathesis hooks for test_schemathesis.py (loaded through SCHEMATHESIS_HOOKS by the schemathesis CLI).

Three things keep a full `--checks all` run short and its results meaningful, and none hides a check:

- Cost: a few valid values make a single request slow on purpose (a 120 s /load/memory/sync, 10 s of CPU in
  /load/cpu/work). `map_case` lowers such values to a cheap one *inside the documented range*, so the case stays
  what it was generated as (valid stays valid, an invalid case keeps its violation, which is in another field or
  outside the range and so never touched). Every operation, field and bound is still exercised; only the slow
  middle of two ranges is not.
- Chaos: PUT /chaos makes later requests fail with a 500 (kind "chaos") or wait up to 60 s, on purpose. The 500 is
  documented for the affected operations, but `not_a_server_error` still counts it, and it should: a real 500
  must fail this test. So `after_call` switches chaos off right after every accepted PUT /chaos; schemathesis runs
  with one worker, so no generated request falls between the two.
- Jobs: an accepted POST /load/cpu or /load/memory may ask for an hour. `after_call` stops it through the API and
  waits until the supervisor has ended it, so one generated job at most runs at a time, for well under a second,
  and the next request finds the pod's budget free (otherwise nearly every later job would get a 409).
"""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import urlsplit

import requests
import schemathesis

JOB_PATHS = {"/load/cpu": "cpu", "/load/memory": "memory"}
STOP_WAIT_S = 15.0  # the supervisor polls every 0.25 s; a busy machine may take longer, a stuck one never does

# Largest value of each slow field that stays cheap (≈ 50 ms), per operation; the documented range is unchanged.
CHEAP: dict[tuple[str, str], dict[str, tuple[type, float]]] = {
    ("POST", "/load/cpu/work"): {"cpu_ms": (float, 50.0), "iterations": (int, 200_000)},
    ("POST", "/load/memory/sync"): {"duration_ms": (int, 200)},
}


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def cheapen(method: str, path: str, body: Any, maxima: dict[str, float]) -> Any:
    """`body` with each slow field above its cheap value but within `maxima` lowered to the cheap value."""
    fields = CHEAP.get((method.upper(), path))
    if not fields or not isinstance(body, dict):
        return body
    for name, (kind, cheap) in fields.items():
        value = body.get(name)
        if not _number(value) or not cheap < value <= maxima[name]:
            continue
        if kind is int and not float(value).is_integer():
            continue  # 5000.5 is not an integer: the server must refuse it, so it stays as generated
        body[name] = int(cheap) if kind is int else cheap
    return body


def _maxima(case: Any) -> dict[str, float]:
    schema = case.operation.definition.raw["requestBody"]["content"]["application/json"]["schema"]
    resolved = case.operation.schema.raw_schema["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    found: dict[str, float] = {}
    for name, prop in resolved["properties"].items():
        branches = [prop, *prop.get("anyOf", [])]
        found[name] = next((branch["maximum"] for branch in branches if "maximum" in branch), float("inf"))
    return found


@schemathesis.hook
def map_case(context: Any, case: Any) -> Any:
    if (case.method.upper(), case.path) in CHEAP and isinstance(case.body, dict):
        case.body = cheapen(case.method, case.path, case.body, _maxima(case))
    return case


def stop_job(base: str, kind: str, job_id: str) -> None:
    """Stop a job and wait until its row is no longer running (its processes are gone by then)."""
    requests.post(f"{base}/load/{kind}/stop", json={"job_id": job_id}, timeout=10).raise_for_status()
    deadline = time.monotonic() + STOP_WAIT_S
    while time.monotonic() < deadline:
        if requests.get(f"{base}/jobs/{job_id}", timeout=10).json()["status"] != "running":
            return
        time.sleep(0.05)
    raise RuntimeError(f"job {job_id} still running {STOP_WAIT_S} s after its stop was requested")


@schemathesis.hook
def after_call(context: Any, case: Any, response: Any) -> None:
    if not 200 <= response.status_code < 300 or case.method.upper() not in ("PUT", "POST"):
        return
    parts = urlsplit(response.request.url)
    base = f"{parts.scheme}://{parts.netloc}"
    if case.method.upper() == "PUT" and case.path == "/chaos":
        pod = case.body.get("pod", "*") if isinstance(case.body, dict) else "*"
        requests.delete(f"{base}/chaos", json={"pod": pod}, timeout=10).raise_for_status()
    elif case.method.upper() == "POST" and case.path in JOB_PATHS:
        stop_job(base, JOB_PATHS[case.path], response.json()["job_id"])
