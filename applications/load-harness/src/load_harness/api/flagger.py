"""Flagger's load-test webhook: `POST /flagger/load-test` with Flagger's payload starts a bounded run against the
canary, so a platform needs no separate flagger-loadtester with `hey`.

Flagger sends `{"name", "namespace", "phase", "metadata": {string: string}}` on every analysis interval. The
metadata says what to run, either as keys (url, rate or concurrency, duration, cpu_ms, iterations, method, body,
thresholds separated by ";", shards) or as a `cmd`: a `load-harness drive …` command line, or the `hey …` line a
flagger-loadtester webhook already has, both read by the CLI's own option definitions (runs/cmdline.py). While
a run for the same canary and webhook (the same metadata) is active, another call returns it instead of starting
a second one; the store makes that check and the insert one transaction, so concurrent calls start exactly one
run. Errors name `metadata.<key>` (`metadata.cmd` for a
command line). Flagger cannot send headers, so the API key may come as `metadata.token`."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

from flask import Blueprint, Response, jsonify, request
from flask.blueprints import BlueprintSetupState
from pydantic import Field, ValidationError

from load_harness.api.models import Request
from load_harness.api.run_models import RunRequest, spec_of
from load_harness.api.validation import documented, parse_body
from load_harness.context import ctx
from load_harness.driver.plan import PlanError, parse_duration
from load_harness.driver.spec import OptionsError, check_bound
from load_harness.problems import ProblemError, field_error, from_validation_error, invalid
from load_harness.runs import cmdline, service
from load_harness.runs import repository as run_store
from load_harness.runs.model import RunOrigin
from load_harness.runs.view import run_view
from load_harness.security.auth import presented_key
from load_harness.security.throttle import key_matches, require_key

bp = Blueprint("flagger", __name__)
PATH = "/flagger/load-test"


@bp.record_once
def _build_parser(_state: BlueprintSetupState) -> None:
    """Build the CLI's parser when the app is made (before gunicorn forks the workers), not on a webhook call."""
    cmdline.drive_parser()


class FlaggerPayload(Request):
    model_config = Request.model_config | {"extra": "ignore"}  # Flagger adds fields between versions
    name: str = Field(min_length=1, max_length=253)
    namespace: str = Field(min_length=1, max_length=253)
    phase: str = Field("", max_length=64)
    metadata: dict[str, str] = Field(default_factory=dict, max_length=64)


def _from_cmd(cmd: str) -> cmdline.CommandLine:
    """`metadata.cmd` → what the command line set, parsed by the CLI's own option definitions (runs/cmdline.py)."""
    try:
        return cmdline.parse(cmd)
    except cmdline.CommandLineError as exc:
        raise invalid([field_error("metadata.cmd", str(exc), cmd[:80], exc.limit)]) from exc


def _cmd_fields(line: cmdline.CommandLine) -> dict[str, Any]:
    """The fields a command line set, as _run_request takes metadata keys."""
    fields: dict[str, Any] = {name: getattr(line, name) for name in line.flags}
    if "headers" in fields:
        fields["headers"] = dict(line.headers)
    if "thresholds" in fields:
        fields["thresholds"] = list(line.thresholds)
    return fields


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
    try:
        check_bound("flagger_duration", seconds, "duration")  # the webhook's own, tighter cap
    except OptionsError as exc:
        raise service.problem(exc) from exc
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


def _in_metadata(exc: ProblemError, flags: Mapping[str, str] | None) -> ProblemError:
    """A 422 about RunRequest fields, renamed to what the Canary holds: `metadata.<key>`, or `metadata.cmd` with
    the flag in the message when the run came from a command line (`flags`: field → the flag that set it)."""
    if exc.status != 422 or not exc.errors:
        return exc
    by_key = flags or {}
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
            flag = by_key.get(key)
            message = f"{flag or key or 'the command'}: {error['message']}"
            errors.append({**error, "field": "metadata.cmd", "message": message})
    return invalid(errors)


def webhook_key(canary: str, metadata: dict[str, str]) -> str:
    """One active run per canary and webhook: a Canary's analysis may call several load-test webhooks, told apart
    by their metadata. The token is left out, so rotating the key does not start a second run."""
    content = json.dumps({k: v for k, v in metadata.items() if k != "token"}, sort_keys=True)
    return f"flagger:{canary}:{hashlib.sha256(content.encode()).hexdigest()[:32]}"


def _authorise(payload: FlaggerPayload) -> None:
    """With API_KEY or FLAGGER_TOKEN set, the caller presents one of them: a header, or metadata.token (Flagger
    cannot send headers). FLAGGER_TOKEN opens this webhook only, so the token that must sit in the Canary object
    (readable by whoever may read Canaries) cannot reach the rest of the API. Both comparisons are constant-time,
    and a wrong token counts against the client's failure budget (429 over it), like the API's."""
    settings = ctx().settings
    keys = [k for k in (settings.api_key, settings.flagger_token) if k]
    if not keys:
        return
    token = presented_key(request) or payload.metadata.get("token")
    detail = "send the API key or FLAGGER_TOKEN as X-API-Key or metadata.token"
    if token and len(keys) == 2 and key_matches(token, settings.flagger_token):
        return
    require_key(token, keys[0], detail)


@bp.post(PATH)
@documented("Flagger load-test webhook: start a bounded run against the canary", body=FlaggerPayload, public=True,
            tags=["runs"])  # fmt: skip
def load_test() -> tuple[Response, int]:
    payload = parse_body(FlaggerPayload)
    _authorise(payload)
    canary = f"{payload.name}.{payload.namespace}"
    engine = ctx().engine
    line = _from_cmd(payload.metadata["cmd"]) if "cmd" in payload.metadata else None
    fields: dict[str, Any] = dict(payload.metadata) if line is None else _cmd_fields(line)
    flags = None if line is None else line.flags
    key = webhook_key(canary, payload.metadata)
    try:
        req = _run_request(fields)
        run = service.create(
            spec_of(req),
            source=RunOrigin.FLAGGER,
            placement=req.placement,
            labels={"canary": canary},
            dedupe_key=key,
        )
    except run_store.DuplicateRun as duplicate:  # checked and created atomically in the store
        return jsonify(
            status="running", canary=canary, run=run_view(engine, duplicate.run).model_dump(mode="json")
        ), 200
    except ProblemError as exc:
        raise _in_metadata(exc, flags) from exc
    return jsonify(status="started", canary=canary, run=run_view(engine, run).model_dump(mode="json")), 200
