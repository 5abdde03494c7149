"""Minimal structural rules for custom resources, which kubernetes-validate only warns about.

Every custom object needs a grouped apiVersion and metadata.name. This is the quick per-file check (it also
runs on `fleet new-app` output); crd-schema validates the rendered objects against their full CRD schemas.
The kinds this platform uses get the fields their CRDs require. Add a kind to RULES to cover it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Rule = Callable[[dict[str, Any]], list[str]]


def _required(*fields: str) -> Rule:
    def rule(spec: dict[str, Any]) -> list[str]:
        return [f"spec.{f} is required" for f in fields if spec.get(f) in (None, "", [], {})]

    return rule


def _service_monitor(spec: dict[str, Any]) -> list[str]:
    out = []
    if not isinstance(spec.get("selector"), dict):
        out.append("spec.selector is required (a label selector for the Services to scrape)")
    endpoints = spec.get("endpoints")
    if not isinstance(endpoints, list) or not endpoints:
        out.append("spec.endpoints must be a non-empty list")
    else:
        for i, ep in enumerate(endpoints):
            if not isinstance(ep, dict) or not (ep.get("port") or ep.get("targetPort")):
                out.append(f"spec.endpoints[{i}] needs a port (Service port name) or targetPort")
    return out


def _pod_monitor(spec: dict[str, Any]) -> list[str]:
    out = [] if isinstance(spec.get("selector"), dict) else ["spec.selector is required"]
    if not isinstance(spec.get("podMetricsEndpoints"), list) or not spec["podMetricsEndpoints"]:
        out.append("spec.podMetricsEndpoints must be a non-empty list")
    return out


def _helm_release(spec: dict[str, Any]) -> list[str]:
    out = _required("interval")(spec)
    if not spec.get("chart") and not spec.get("chartRef"):
        out.append("spec.chart or spec.chartRef is required")
    return out


# (API group, kind) -> rule. The group is the apiVersion without its version.
RULES: dict[tuple[str, str], Rule] = {
    ("monitoring.coreos.com", "ServiceMonitor"): _service_monitor,
    ("monitoring.coreos.com", "PodMonitor"): _pod_monitor,
    ("monitoring.coreos.com", "PrometheusRule"): _required("groups"),
    ("helm.toolkit.fluxcd.io", "HelmRelease"): _helm_release,
    ("kustomize.toolkit.fluxcd.io", "Kustomization"): _required("interval", "sourceRef", "prune"),
    ("source.toolkit.fluxcd.io", "GitRepository"): _required("interval", "url"),
    ("source.toolkit.fluxcd.io", "OCIRepository"): _required("interval", "url"),
    ("source.toolkit.fluxcd.io", "HelmRepository"): _required("url"),
}


# Configuration files of client tools, shaped like objects but never sent to an API server (kind's cluster config).
CLIENT_CONFIG_GROUPS = {"kind.x-k8s.io"}


def crd_problems(doc: dict[str, Any]) -> tuple[list[str], list[str]]:
    """(errors, notes) for one object of a kind kubernetes-validate has no schema for."""
    api_version, kind = str(doc.get("apiVersion", "")), str(doc.get("kind", ""))
    group = api_version.rpartition("/")[0]
    if group in CLIENT_CONFIG_GROUPS:
        return [], []
    metadata = doc.get("metadata")
    errors: list[str] = []
    if not isinstance(metadata, dict) or not metadata.get("name"):
        errors.append("metadata.name is required")
    if "." not in group:
        # core ("v1") and built-in groups (apps, batch, policy...) have schemas: the kind itself is wrong.
        errors.append(f"no kind {kind!r} in built-in API {api_version!r}")
        return errors, []
    rule = RULES.get((group, kind))
    if rule is None:
        return errors, []  # crd-schema validates the rendered object against its full CRD schema
    spec = doc.get("spec")
    if not isinstance(spec, dict):
        return [*errors, "spec is required"], []
    return errors + rule(spec), []
