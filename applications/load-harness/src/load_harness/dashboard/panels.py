"""Live metrics and the pod monitor: HTMX partials polled every few seconds, filled by an observe provider."""

from __future__ import annotations

from typing import Any

from flask import render_template, request
from flask.blueprints import BlueprintSetupState

from load_harness.context import KEY, AppServices, ctx
from load_harness.dashboard.blueprint import bp
from load_harness.observe import Providers, Scope

# Colour thresholds of the usage bars (percent of the limit): below WARN is fine, from HIGH on it is critical.
WARN_PCT = 70
HIGH_PCT = 90


def providers() -> Providers:
    return ctx().providers()


@bp.record_once
def _create_providers(state: BlueprintSetupState) -> None:
    # At app start, not on the first poll: the local provider's rates need a baseline sample, and taking it now
    # means the first panel a user sees already has figures instead of "measuring".
    context: AppServices | None = state.app.extensions.get(KEY)
    if context is not None:
        context.providers()


def _scope() -> Scope:
    scope = request.args.get("scope")
    if scope in ("pod", "cluster"):
        return scope  # type: ignore[return-value]
    return providers().default_scope


def metrics_context() -> dict[str, Any]:
    scope = _scope()
    return {"overview": providers().get(scope).overview(), "scope": scope, "warn": WARN_PCT, "high": HIGH_PCT}


def pods_context() -> dict[str, Any]:
    scope = _scope()
    return {"pod_list": providers().get(scope).pods(), "scope": scope, "warn": WARN_PCT, "high": HIGH_PCT}


@bp.get("/partials/metrics")
def metrics_panel() -> str:
    return render_template("dashboard/metrics/panel.html", **metrics_context())


@bp.get("/partials/pods")
def pods_panel() -> str:
    return render_template("dashboard/pods/panel.html", **pods_context())
