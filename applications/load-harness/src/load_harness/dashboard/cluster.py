"""The Cluster Load tab: a driver run from a form. Mode, target, stage preset, duration, work per request and
thresholds become a RunSpec (numbers stay numbers), which runs.service checks and starts: the API's own path
(SSRF guard, run bounds, thresholds, admission). The run bounds are also checked field by field here with
driver.spec.check_bound, the API's and the CLI's own check, and shown from runs.service.bounds(), so a field's
error appears as the user types."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from flask import render_template, request

from load_harness import limits as L
from load_harness.dashboard import runs as dash
from load_harness.dashboard import runs_data
from load_harness.dashboard.blueprint import bp
from load_harness.dashboard.forms import problem_errors, to_number
from load_harness.driver.plan import Stage
from load_harness.driver.spec import BoundName, OptionsError, RunSpec, check_bound, make_spec, number_text
from load_harness.problems import ProblemError
from load_harness.runs import service
from load_harness.runs.model import RunOrigin

NAME_MAX = 80  # a label of the dashboard's own, not a run bound
DURATION_MIN_S = 1.0  # the form's own floor, not a run bound
MODES = {"open": "Rate (open loop, requests/s)", "closed": "Concurrency (closed loop, parallel requests)"}
WORK = {"cpu_ms": "CPU milliseconds per request", "iterations": "Iterations per request"}
DEFAULTS = {
    "name": "",
    "url": "",
    "mode": "open",
    "target": "20",
    "preset": "ramp-up",
    "duration_s": "30",
    "work": "cpu_ms",
    "work_amount": "5",
    "p99_ms": "",
    "errors_pct": "",
}
# Where a problem from runs.service points (the POST /runs field) → the form field to show it next to.
BODY_TO_FORM = {
    "name": "name",
    "url": "url",
    "mode": "mode",
    "start_target": "target",
    "stages": "target",
    "rate": "target",
    "concurrency": "target",
    "duration": "duration_s",
    "duration_seconds": "duration_s",
    "work": "work_amount",
    "cpu_ms": "work_amount",
    "iterations": "work_amount",
    "thresholds": "p99_ms",
}


@dataclass
class RunForm:
    values: dict[str, str]
    errors: dict[str, str] = field(default_factory=dict)
    body: dash.RunBody | None = None
    detail: str | None = None

    @property
    def ok(self) -> bool:
        return self.body is not None and not self.errors and self.detail is None


def _bounded(
    form: RunForm,
    name: str,
    kind: type,
    low: float,
    high: float,
    unit: str = "",
    optional: bool = False,
    bound: BoundName | None = None,
) -> Any:
    """The field as a number within [low, high] (the range the form shows), and within the run bound `bound`."""
    raw = form.values.get(name, "")
    if optional and not raw.strip():
        return None
    number, error = to_number(raw, kind)
    if error is None and not low <= number <= high:
        error = f"must be between {number_text(low)} and {number_text(high)}{unit}"
    if error is None and bound is not None:
        error = _bound_error(bound, number)
    if error:
        form.errors[name] = error
        return None
    return number


def _bound_error(bound: BoundName, value: float | str) -> str | None:
    try:
        check_bound(bound, value)
    except OptionsError as exc:
        return str(exc)
    return None


def run_limits() -> dash.RunLimits:
    """The bounds the form shows and checks, read now: the form follows limits.py as the API does."""
    bounds = service.bounds()
    return dash.RunLimits(
        rate_max=bounds.rate_max,
        concurrency_max=bounds.concurrency_max,
        duration_min_s=DURATION_MIN_S,
        duration_max_s=bounds.duration_max_s,
    )


def parse_run_form(data: Mapping[str, str], limits: dash.RunLimits) -> RunForm:
    form = RunForm({k: str(data.get(k, default)) for k, default in DEFAULTS.items()})
    v = form.values
    if len(v["name"]) > NAME_MAX:
        form.errors["name"] = f"at most {NAME_MAX} characters"
    url_error = _bound_error("url", v["url"])
    if url_error:
        form.errors["url"] = url_error
    if v["mode"] not in MODES:
        form.errors["mode"] = "choose rate or concurrency"
    if v["preset"] not in dash.PRESETS:
        form.errors["preset"] = "choose one of the presets"
    if v["work"] not in WORK:
        form.errors["work"] = "choose CPU milliseconds or iterations"
    closed = v["mode"] == "closed"
    target = _bounded(
        form,
        "target",
        int if closed else float,
        1,
        limits.concurrency_max if closed else limits.rate_max,
        "" if closed else " req/s",
        bound="concurrency" if closed else "rate",
    )
    duration = _bounded(form, "duration_s", float, limits.duration_min_s, limits.duration_max_s, " s", bound="duration")
    if v["work"] == "iterations":
        amount = _bounded(form, "work_amount", int, L.ITERATIONS_MIN, L.ITERATIONS_MAX)
    else:
        amount = _bounded(form, "work_amount", float, L.CPU_MS_MIN, L.CPU_MS_MAX, " ms")
    p99 = _bounded(form, "p99_ms", float, 0.001, 3_600_000, " ms", optional=True)
    errors_pct = _bounded(form, "errors_pct", float, 0, 100, " %", optional=True)
    if form.errors:
        return form
    start, stages = dash.stages_for(v["preset"], float(target), float(duration))
    thresholds = []
    if p99 is not None:
        thresholds.append(f"p99<{p99:g}ms")
    if errors_pct is not None:
        thresholds.append(f"errors<{errors_pct:g}%")
    form.body = {
        "name": v["name"].strip() or None,
        "url": v["url"].strip() or None,
        "mode": v["mode"],
        "start_target": round(start) if closed else start,
        # Concurrency is a whole number of request loops, at every stage.
        "stages": [{"duration_s": round(d, 3), "target": round(t) if closed else t} for d, t in stages],
        "work": {v["work"]: amount},
        "thresholds": thresholds,
        "preset": v["preset"],
    }
    return form


def _apply_problem(form: RunForm, exc: ProblemError) -> None:
    for body_field, message in problem_errors(exc).items():
        form_field = BODY_TO_FORM.get(body_field)
        if form_field:
            form.errors.setdefault(form_field, message)
        else:
            form.detail = exc.detail
    if not form.errors and form.detail is None:
        form.detail = exc.detail


def spec_for(body: dash.RunBody) -> RunSpec:
    """The form's run → a RunSpec. Raises the ProblemError POST /runs would, naming its fields (BODY_TO_FORM maps
    them back)."""
    closed = body["mode"] == "closed"
    start = float(body["start_target"])
    work = body["work"]
    iterations = work.get("iterations")
    try:
        return make_spec(
            body["url"],
            default_url=service.default_url(),
            rate=start if start > 0 and not closed else None,
            concurrency=round(start) if start > 0 and closed else None,
            stages_mode="closed" if closed else "open",
            stages=[Stage(float(s["duration_s"]), float(s["target"])) for s in body["stages"]],
            cpu_ms=work.get("cpu_ms"),
            iterations=None if iterations is None else int(iterations),
            thresholds=list(body["thresholds"]),
        )
    except OptionsError as exc:
        raise service.problem(exc) from exc


def _checked_form() -> RunForm:
    """The form, its fields checked, then the run checked as starting it would (everything but admission)."""
    form = parse_run_form(request.form, run_limits())
    if form.body is not None and not form.errors:
        try:
            service.check(spec_for(form.body))
        except ProblemError as exc:
            _apply_problem(form, exc)
    return form


def tab_context(values: dict[str, str] | None = None) -> dict[str, Any]:
    values = values or dict(DEFAULTS)
    limits = run_limits()
    return {
        "values": values,
        "modes": MODES,
        "presets": dash.PRESETS,
        "work_kinds": WORK,
        "L": L,
        "limits": limits,
        **preview_context(values, limits),
    }


def preview_context(values: Mapping[str, str], limits: dash.RunLimits) -> dict[str, Any]:
    form = parse_run_form(values, limits)
    if form.body is None:
        return {"curve": None, "curve_text": "Fix the fields above to see the target curve."}
    stages = [(s["duration_s"], s["target"]) for s in form.body["stages"]]
    start = form.body["start_target"]
    return {
        "curve": dash.curve_points(start, stages),
        "curve_text": dash.describe_stages(start, stages),
    }


@bp.post("/cluster/validate")
def cluster_validate() -> str:
    form = _checked_form()
    return render_template(
        "dashboard/layout/field_error.html", message=form.errors.get(request.args.get("field", ""), "")
    )


@bp.post("/cluster/preview")
def cluster_preview() -> str:
    return render_template("dashboard/cluster/preview.html", **preview_context(request.form, run_limits()))


@bp.post("/cluster")
def cluster_start() -> tuple[str, int, dict[str, str]]:
    form = _checked_form()
    run = None
    if form.ok and form.body is not None:
        labels = {"name": form.body["name"], "preset": form.body["preset"]}
        try:
            row = service.create(spec_for(form.body), source=RunOrigin.DASHBOARD, labels=labels)
        except ProblemError as exc:
            _apply_problem(form, exc)
        else:
            run = runs_data.summary_of(row, None)  # just stored: no shard has reported yet
    status = 200 if run is not None else 422 if form.errors else 409
    headers = {"HX-Trigger": "jobs-changed"} if run is not None else {}
    page = render_template("dashboard/cluster/started.html", run=run, form=form, fields=list(DEFAULTS))
    return page, status, headers
