"""Flagger's load-test webhook: `POST /flagger/load-test` with Flagger's payload starts a bounded run against the
canary, so a platform needs no separate flagger-loadtester with `hey`.

Flagger sends `{"name", "namespace", "phase", "metadata": {string: string}}` on every analysis interval. The
metadata says what to run, either as keys (url, rate or concurrency, duration, cpu_ms, iterations, method, body,
thresholds separated by ";", shards) or as a `cmd`: a `load-harness drive …` command line, or the `hey …` line a
flagger-loadtester webhook already has. While a run for the same canary and webhook (the same metadata) is
active, another call returns it instead of starting a second one; the store makes that check and the insert one
transaction, so concurrent calls start exactly one run. Errors name `metadata.<key>` (`metadata.cmd` for a
command line). Flagger cannot send headers, so the API key may come as `metadata.token`."""

from __future__ import annotations

import hashlib
import json
import math
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
from load_harness.security.auth import presented_key
from load_harness.security.throttle import require_key
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


def _from_cmd(cmd: str) -> tuple[dict[str, Any], dict[str, str]]:
    """Turn a `load-harness drive …` or `hey …` command line into metadata keys, and the flags it understood."""
    if len(cmd) > L.FLAGGER_CMD_MAX:
        message = f"is {len(cmd)} characters long; at most {L.FLAGGER_CMD_MAX} (a long body goes in metadata.body)"
        raise invalid([field_error("metadata.cmd", message, cmd[:80], {"max_length": L.FLAGGER_CMD_MAX})])
    try:
        words = shlex.split(cmd)
    except ValueError as exc:  # an unterminated quote or a trailing backslash
        raise invalid([field_error("metadata.cmd", f"cannot split the command line: {exc}", cmd[:80])]) from exc
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
            raise invalid([field_error("metadata.cmd", f"unsupported word {word[:80]!r}", cmd[:80])])
    if "hey_rate" in found:
        # hey's -q is per worker: the arrival rate is q × c, sent open-loop.
        per_worker = _positive(found.pop("hey_rate"), "-q", cmd)
        found["rate"] = per_worker * _positive(found.pop("concurrency", "50"), "-c", cmd)
    return found, flags


def _positive(text: str, flag: str, cmd: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value <= 0:
        raise invalid([field_error("metadata.cmd", f"{flag} must be a positive number, got {text[:40]!r}", cmd[:80])])
    return value


def _run_request(fields: dict[str, Any]) -> RunRequest:
    """Metadata keys → RunRequest. Errors name the RunRequest field or the metadata key; _in_metadata maps them."""
    fields = dict(fields)
    fields.pop("token", None)
    if isinstance(fields.get("thresholds"), str):
        fields["thresholds"] = [t for t in fields["thresholds"].split(";") if t.strip()]
    if isinstance(fields.get("headers"), list):
        fields["headers"] = dict(h.split(":", 1) for h in fields["headers"] if ":" in h)
    duration = str(fields.pop("duration", "60s"))
    seconds = _duration(duration, "duration")
    if seconds > L.FLAGGER_DURATION_MAX_S:
        message = f"must be ≤ {L.FLAGGER_DURATION_MAX_S} s"
        raise invalid([field_error("duration", message, duration, {"le": L.FLAGGER_DURATION_MAX_S})])
    fields["duration_seconds"] = max(1, round(seconds))
    if "timeout" in fields:
        fields["timeout_seconds"] = _duration(str(fields.pop("timeout")), "timeout")
    if not str(fields.get("url") or "").strip():
        # An empty url must not fall back to this service's own target: a webhook always names its canary.
        raise invalid([field_error("url", "the canary URL is required", fields.get("url"))])
    try:
        # Metadata values are strings; lax mode turns "10" into 10 while the bounds still apply.
        return RunRequest.model_validate(fields, strict=False)
    except ValidationError as exc:
        raise from_validation_error(exc) from exc


def _duration(text: str, key: str) -> float:
    try:
        return parse_duration(text)  # capped at limits.DURATION_TEXT_MAX and linear
    except PlanError as exc:
        raise invalid([field_error(key, str(exc), text[:80])]) from exc


_FIELD_KEY = {"duration_seconds": "duration", "timeout_seconds": "timeout", "header": "headers", "(body)": ""}


def _in_metadata(exc: ProblemError, flags: dict[str, str] | None) -> ProblemError:
    """A 422 about RunRequest fields, renamed to what the Canary holds: `metadata.<key>`, or `metadata.cmd` with
    the flag in the message when the run came from a command line."""
    if exc.status != 422 or not exc.errors:
        return exc
    by_key = {key: flag for flag, key in (flags or {}).items()}
    errors = []
    for error in exc.errors:
        field = str(error["field"])
        if field.startswith("metadata"):
            errors.append(error)
            continue
        root = field.split(".")[0]
        key = _FIELD_KEY.get(root, root)
        if flags is None:
            errors.append({**error, "field": f"metadata.{key}" if key else "metadata"})
        else:
            flag = by_key.get(key) or (by_key.get("hey_rate") if key == "rate" else None)
            message = f"{flag or key or 'the command'}: {error['message']}"
            errors.append({**error, "field": "metadata.cmd", "message": message})
    return invalid(errors)


def webhook_key(canary: str, metadata: dict[str, str]) -> str:
    """One active run per canary and webhook: a Canary's analysis may call several load-test webhooks, told apart
    by their metadata. The token is left out, so rotating the key does not start a second run."""
    content = json.dumps({k: v for k, v in metadata.items() if k != "token"}, sort_keys=True)
    return f"flagger:{canary}:{hashlib.sha256(content.encode()).hexdigest()[:32]}"


@bp.post(PATH)
@documented("Flagger load-test webhook: start a bounded run against the canary", body=FlaggerPayload, public=True,
            tags=["runs"])  # fmt: skip
def load_test() -> tuple[Response, int]:
    payload = parse_body(FlaggerPayload)
    api_key = ctx().settings.api_key
    if api_key:
        # The shared check: wrong tokens count against the client's failure budget (429 over it), like the API's.
        token = presented_key(request) or payload.metadata.get("token")
        require_key(token, api_key, "send the API key as X-API-Key or metadata.token")
    canary = f"{payload.name}.{payload.namespace}"
    engine = ctx().engine
    fields, flags = _from_cmd(payload.metadata["cmd"]) if "cmd" in payload.metadata else (payload.metadata, None)
    key = webhook_key(canary, payload.metadata)
    try:
        run = create_run(_run_request(fields), source="flagger", extra_options={"canary": canary}, dedupe_key=key)
    except run_store.DuplicateRun as duplicate:  # checked and created atomically in the store
        return jsonify(status="running", canary=canary, run=run_view(engine, duplicate.run)), 200
    except ProblemError as exc:
        raise _in_metadata(exc, flags) from exc
    return jsonify(status="started", canary=canary, run=run_view(engine, run)), 200
