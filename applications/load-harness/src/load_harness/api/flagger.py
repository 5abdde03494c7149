"""Flagger's load-test webhook: `POST /flagger/load-test` with Flagger's payload starts a bounded run against the
canary, so a platform needs no separate flagger-loadtester with `hey`.

Flagger sends `{"name", "namespace", "phase", "metadata": {string: string}}` on every analysis interval. The
metadata says what to run, either as keys (url, rate or concurrency, duration, cpu_ms, iterations, method, body,
thresholds separated by ";", shards) or as a `cmd`: a `load-harness drive …` command line, or the `hey …` line a
flagger-loadtester webhook already has. While a run for the same canary is active, another call does not start a
second one. Flagger cannot send headers, so the API key may come as `metadata.token`."""

from __future__ import annotations

import shlex
from typing import Any

from flask import Blueprint, Response, jsonify, request
from pydantic import Field, ValidationError

from load_harness import limits as L
from load_harness.api.models import Request
from load_harness.api.problems import ProblemError, field_error, from_validation_error, invalid
from load_harness.api.run_models import RunRequest
from load_harness.api.runs import create_run
from load_harness.api.validation import documented, parse_body
from load_harness.context import ctx
from load_harness.driver.plan import PlanError, parse_duration
from load_harness.runs.view import run_view
from load_harness.security.auth import key_matches, presented_key
from load_harness.store import runs as run_store

bp = Blueprint("flagger", __name__)
PATH = "/flagger/load-test"


class FlaggerPayload(Request):
    model_config = Request.model_config | {"extra": "ignore"}  # Flagger adds fields between versions
    name: str = Field(min_length=1, max_length=253)
    namespace: str = Field(min_length=1, max_length=253)
    phase: str = Field("", max_length=64)
    metadata: dict[str, str] = Field(default_factory=dict, max_length=64)


_DRIVE_FLAGS = {
    "--rate": "rate", "--concurrency": "concurrency", "--duration": "duration", "--cpu-ms": "cpu_ms",
    "--iterations": "iterations", "--method": "method", "--body": "body", "--timeout": "timeout",
    "--shards": "shards", "--threshold": "thresholds", "--header": "headers", "--requests": "requests",
}  # fmt: skip
_HEY_FLAGS = {"-z": "duration", "-q": "hey_rate", "-c": "concurrency", "-m": "method", "-d": "body", "-H": "headers",
              "-n": "requests", "-t": "timeout"}  # fmt: skip


def _from_cmd(cmd: str) -> dict[str, Any]:
    """Turn a `load-harness drive …` or `hey …` command line into metadata keys."""
    words = shlex.split(cmd)
    if words[:2] == ["load-harness", "drive"]:
        flags, words = _DRIVE_FLAGS, words[2:]
    elif words[:1] == ["hey"]:
        flags, words = _HEY_FLAGS, words[1:]
    else:
        raise invalid([field_error("metadata.cmd", "must start with `load-harness drive` or `hey`", cmd[:80])])
    found: dict[str, Any] = {"thresholds": [], "headers": []}
    index = 0
    while index < len(words):
        word = words[index]
        if word in flags and index + 1 < len(words):
            key, value = flags[word], words[index + 1]
            if key in ("thresholds", "headers"):
                found[key].append(value)
            else:
                found[key] = value
            index += 2
        elif word.startswith("http://") or word.startswith("https://"):
            found["url"] = word
            index += 1
        else:
            raise invalid([field_error("metadata.cmd", f"unsupported word {word!r}", cmd[:80])])
    if "hey_rate" in found:
        # hey's -q is per worker: the arrival rate is q × c, sent open-loop.
        found["rate"] = float(found.pop("hey_rate")) * float(found.pop("concurrency", 50))
    return found


def _run_request(meta: dict[str, str]) -> RunRequest:
    fields: dict[str, Any] = _from_cmd(meta["cmd"]) if "cmd" in meta else dict(meta)
    fields.pop("token", None)
    if isinstance(fields.get("thresholds"), str):
        fields["thresholds"] = [t for t in fields["thresholds"].split(";") if t.strip()]
    if isinstance(fields.get("headers"), list):
        fields["headers"] = dict(h.split(":", 1) for h in fields["headers"] if ":" in h)
    duration = fields.pop("duration", "60s")
    try:
        seconds = parse_duration(str(duration))
    except PlanError as exc:
        raise invalid([field_error("metadata.duration", str(exc), duration)]) from exc
    if seconds > L.FLAGGER_DURATION_MAX_S:
        raise invalid(
            [
                field_error(
                    "metadata.duration",
                    f"must be ≤ {L.FLAGGER_DURATION_MAX_S} s",
                    duration,
                    {"le": L.FLAGGER_DURATION_MAX_S},
                )
            ]
        )
    fields["duration_seconds"] = max(1, round(seconds))
    if "timeout" in fields:
        fields["timeout_seconds"] = parse_duration(str(fields.pop("timeout")))
    if "url" not in fields:
        raise invalid([field_error("metadata.url", "the canary URL is required", None)])
    try:
        # Metadata values are strings; lax mode turns "10" into 10 while the bounds still apply.
        return RunRequest.model_validate(fields, strict=False)
    except ValidationError as exc:
        raise from_validation_error(exc) from exc


@bp.post(PATH)
@documented("Flagger load-test webhook: start a bounded run against the canary", body=FlaggerPayload, public=True,
            tags=["runs"])  # fmt: skip
def load_test() -> tuple[Response, int]:
    payload = parse_body(FlaggerPayload)
    api_key = ctx().settings.api_key
    if api_key and not key_matches(presented_key(request) or payload.metadata.get("token"), api_key):
        raise ProblemError(401, "Unauthorized", "send the API key as X-API-Key or metadata.token", kind="unauthorized")
    canary = f"{payload.name}.{payload.namespace}"
    engine = ctx().engine
    for run in run_store.list_runs(engine, limit=20, statuses=["pending", "running"], source="flagger"):
        if run.options.get("canary") == canary:
            return jsonify(status="running", canary=canary, run=run_view(engine, run)), 200
    run = create_run(_run_request(payload.metadata), source="flagger", extra_options={"canary": canary})
    return jsonify(status="started", canary=canary, run=run_view(engine, run)), 200
