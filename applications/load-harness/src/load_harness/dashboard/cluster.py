"""The Cluster Load tab: a driver run from a form. Mode, target, stage preset, duration, work per request and
thresholds become the JSON body of POST /runs; the run source validates and starts it as the API would."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from flask import render_template, request

from load_harness import limits as L
from load_harness.api.problems import ProblemError
from load_harness.dashboard import runs as run_source
from load_harness.dashboard.blueprint import bp
from load_harness.dashboard.forms import problem_errors, to_number

NAME_MAX = 80
URL_MAX = 2048
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
# Where a problem from the run source points (its body's field) → the form field to show it next to.
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
    body: dict[str, Any] | None = None
    detail: str | None = None

    @property
    def ok(self) -> bool:
        return self.body is not None and not self.errors and self.detail is None


def number_text(value: float) -> str:
    """10000000, not 1e+07; 0.1 stays 0.1."""
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


def _bounded(
    form: RunForm, name: str, kind: type, low: float, high: float, unit: str = "", optional: bool = False
) -> Any:
    raw = form.values.get(name, "")
    if optional and not raw.strip():
        return None
    number, error = to_number(raw, kind)
    if error is None and not low <= number <= high:
        error = f"must be between {number_text(low)} and {number_text(high)}{unit}"
    if error:
        form.errors[name] = error
        return None
    return number


def parse_run_form(data: Mapping[str, str], limits: run_source.RunLimits) -> RunForm:
    form = RunForm({k: str(data.get(k, default)) for k, default in DEFAULTS.items()})
    v = form.values
    if len(v["name"]) > NAME_MAX:
        form.errors["name"] = f"at most {NAME_MAX} characters"
    if len(v["url"]) > URL_MAX:
        form.errors["url"] = f"at most {URL_MAX} characters"
    if v["mode"] not in MODES:
        form.errors["mode"] = "choose rate or concurrency"
    if v["preset"] not in run_source.PRESETS:
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
    )
    duration = _bounded(form, "duration_s", float, limits.duration_min_s, limits.duration_max_s, " s")
    if v["work"] == "iterations":
        amount = _bounded(form, "work_amount", int, L.ITERATIONS_MIN, L.ITERATIONS_MAX)
    else:
        amount = _bounded(form, "work_amount", float, L.CPU_MS_MIN, L.CPU_MS_MAX, " ms")
    p99 = _bounded(form, "p99_ms", float, 0.001, 3_600_000, " ms", optional=True)
    errors_pct = _bounded(form, "errors_pct", float, 0, 100, " %", optional=True)
    if form.errors:
        return form
    start, stages = run_source.stages_for(v["preset"], float(target), float(duration))
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


def _checked_form() -> tuple[RunForm, run_source.RunSource | None]:
    source = run_source.source()
    if source is None:
        return RunForm(dict(DEFAULTS), detail=unavailable_reason()), None
    form = parse_run_form(request.form, source.limits())
    if form.body is not None and not form.errors:
        try:
            source.validate(form.body)
        except ProblemError as exc:
            _apply_problem(form, exc)
    return form, source


def unavailable_reason() -> str:
    return (
        "The driver API (/runs) is not available in this build yet, so Cluster Load cannot start runs. "
        "CPU and Memory jobs work now."
    )


def tab_context(values: dict[str, str] | None = None) -> dict[str, Any]:
    source = run_source.source()
    values = values or dict(DEFAULTS)
    context: dict[str, Any] = {
        "available": source is not None,
        "reason": unavailable_reason(),
        "values": values,
        "modes": MODES,
        "presets": run_source.PRESETS,
        "work_kinds": WORK,
        "L": L,
    }
    if source is not None:
        context["limits"] = source.limits()
        context.update(preview_context(values, source.limits()))
    return context


def preview_context(values: Mapping[str, str], limits: run_source.RunLimits) -> dict[str, Any]:
    form = parse_run_form(values, limits)
    if form.body is None:
        return {"curve": None, "curve_text": "Fix the fields above to see the target curve."}
    stages = [(s["duration_s"], s["target"]) for s in form.body["stages"]]
    start = form.body["start_target"]
    return {
        "curve": run_source.curve_points(start, stages),
        "curve_text": run_source.describe_stages(start, stages),
    }


@bp.post("/cluster/validate")
def cluster_validate() -> str:
    form, _ = _checked_form()
    return render_template(
        "dashboard/layout/field_error.html", message=form.errors.get(request.args.get("field", ""), "")
    )


@bp.post("/cluster/preview")
def cluster_preview() -> str:
    source = run_source.source()
    if source is None:
        return ""
    return render_template("dashboard/cluster/preview.html", **preview_context(request.form, source.limits()))


@bp.post("/cluster")
def cluster_start() -> tuple[str, int, dict[str, str]]:
    form, source = _checked_form()
    run = None
    if source is not None and form.ok and form.body is not None:
        try:
            run = source.start(form.body)
        except ProblemError as exc:
            _apply_problem(form, exc)
    status = 200 if run is not None else (422 if form.errors else 409 if source is not None else 503)
    headers = {"HX-Trigger": "jobs-changed"} if run is not None else {}
    page = render_template("dashboard/cluster/started.html", run=run, form=form, fields=list(DEFAULTS))
    return page, status, headers
