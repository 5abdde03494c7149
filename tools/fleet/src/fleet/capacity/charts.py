"""Pods a Flux HelmRelease runs, from data/chart-pods.yaml (each chart's default values) and `spec.values`.

Helm is not run: the chart's templates are not rendered, so the counts come from the data file, which names the
values paths (replicaCount, controller.replicaCount, ...) that change them. A chart missing from the file is still
counted, at the file's `unknown_chart_pods`, and flagged as an assumption, never skipped.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from fleet.capacity.requests import Requests, RequestsSpec, block_requests
from fleet.datafiles import load_model, packaged

HELM_RELEASE_GROUP = "helm.toolkit.fluxcd.io"
HELM_RELEASE_VERSIONS = {"v2", "v2beta1", "v2beta2"}
OCI_REPOSITORY_GROUP = "source.toolkit.fluxcd.io"


class ChartComponent(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    name: str
    replicas: Annotated[int, Field(ge=0)] = 1
    per_node: bool = False
    replicas_value: str | None = None
    enabled_value: str | None = None
    enabled: bool = True
    daemonset_value: str | None = None
    autoscaling_value: str | None = None
    autoscaling_max: Annotated[int, Field(ge=0)] = 0
    # The values path of the component's main container `resources` block, and the chart's default requests
    # for one pod at the pinned version (None: the chart sets none, so the pod requests nothing unless the
    # release's spec.values does).
    resources_value: str | None = None
    default_requests: RequestsSpec | None = None

    @model_validator(mode="after")
    def _autoscaling_needs_a_max(self) -> ChartComponent:
        if self.autoscaling_value and self.autoscaling_max < 1:
            raise ValueError("autoscaling_value needs autoscaling_max (the chart's default maxReplicas)")
        return self


class ChartEntry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    source: Annotated[str, Field(min_length=1)]
    aliases: list[str] = []
    components: Annotated[list[ChartComponent], Field(min_length=1)]


class ChartTable(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    unknown_chart_pods: Annotated[int, Field(ge=0)]
    charts: dict[str, ChartEntry]

    def find(self, chart: str) -> tuple[str, ChartEntry] | None:
        """The entry for a chart name or one of its aliases, with its canonical name."""
        if chart in self.charts:
            return chart, self.charts[chart]
        return next(((name, e) for name, e in self.charts.items() if chart in e.aliases), None)


def load_chart_table(path: Path | None = None) -> ChartTable:
    return load_model(path or packaged("chart-pods.yaml"), ChartTable)


class ReleaseCount(BaseModel):
    """What one HelmRelease adds to the node: its pods, why, and the chart's canonical name (None if unknown)."""

    model_config = ConfigDict(frozen=True)
    chart: str
    known_chart: str | None
    pods: int
    basis: str
    warnings: list[str] = []
    steady_pods: int = 0  # autoscaling components at minReplicas rather than maxReplicas
    requests: Requests = Requests()  # steady state, all components
    peak_requests: Requests = Requests()
    unrequested: list[str] = []  # components that run pods but request nothing


def is_helm_release(obj: dict[str, Any]) -> bool:
    """Any version of Flux's HelmRelease: an unknown one is counted too, with a warning, never skipped."""
    return obj.get("kind") == "HelmRelease" and str(obj.get("apiVersion", "")).startswith(HELM_RELEASE_GROUP + "/")


def oci_chart_names(objects: list[dict[str, Any]]) -> dict[tuple[str, str], str]:
    """(namespace, name) of each OCIRepository -> the chart it serves (the URL's last path part)."""
    names: dict[tuple[str, str], str] = {}
    for obj in objects:
        if obj.get("kind") == "OCIRepository" and str(obj.get("apiVersion", "")).startswith(OCI_REPOSITORY_GROUP):
            meta, spec = _dict(obj.get("metadata")), _dict(obj.get("spec"))
            url = str(spec.get("url", "")).rstrip("/")
            if url:
                names[(str(meta.get("namespace") or ""), str(meta.get("name")))] = url.rsplit("/", 1)[-1]
    return names


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _lookup(values: dict[str, Any], path: str | None) -> Any:
    """The value at a dotted path in spec.values, or None when any part is missing."""
    if not path:
        return None
    node: Any = values
    for part in path.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def _count(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int) and value >= 0:
        return value
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return None


def chart_name(obj: dict[str, Any], oci_charts: dict[tuple[str, str], str]) -> str | None:
    """spec.chart.spec.chart, or the chart behind spec.chartRef (an OCIRepository in the same tree)."""
    spec = _dict(obj.get("spec"))
    name = _dict(_dict(spec.get("chart")).get("spec")).get("chart")
    if name:
        return str(name).rsplit("/", 1)[-1]
    ref = _dict(spec.get("chartRef"))
    if ref.get("kind") == "OCIRepository":
        release_ns = str(_dict(obj.get("metadata")).get("namespace") or "")
        return oci_charts.get((str(ref.get("namespace") or release_ns), str(ref.get("name"))))
    return None


def _component_pods(component: ChartComponent, values: dict[str, Any], warnings: list[str]) -> tuple[int, str]:
    """Pods of one component on one node, and a short note of how the figure was reached."""
    enabled = _lookup(values, component.enabled_value)
    if (enabled if isinstance(enabled, bool) else component.enabled) is False:
        # Off by the chart's default is not worth a word; off by the release's values is.
        return 0, f"{component.name} off ({component.enabled_value}=false)" if component.enabled else ""
    kind = _lookup(values, component.daemonset_value)
    if component.per_node or kind == "DaemonSet":
        return 1, f"{component.name} 1 (DaemonSet: 1 per node)"
    autoscaling = _dict(_lookup(values, component.autoscaling_value))
    if autoscaling.get("enabled") is True:
        peak = _count(autoscaling.get("maxReplicas")) or component.autoscaling_max
        return peak, f"{component.name} {peak} (autoscaling maxReplicas, worst case)"
    raw = _lookup(values, component.replicas_value)
    replicas = _count(raw)
    if raw is not None and replicas is None:
        warnings.append(f"{component.replicas_value}={raw!r} is not a replica count; chart default used")
    if replicas is None:
        return component.replicas, f"{component.name} {component.replicas}"
    return replicas, f"{component.name} {replicas} ({component.replicas_value}={replicas})"


def _component_requests(component: ChartComponent, values: dict[str, Any]) -> Requests | None:
    """One pod's requests: the release's resources block at resources_value, else the chart's default."""
    override = block_requests(_lookup(values, component.resources_value))
    if override is not None:
        return override
    return component.default_requests.requests() if component.default_requests else None


def _steady_pods(component: ChartComponent, values: dict[str, Any], peak: int) -> int:
    """Pods without load: an autoscaled component at its minReplicas (1 when unset), others as counted."""
    autoscaling = _dict(_lookup(values, component.autoscaling_value))
    if peak and autoscaling.get("enabled") is True:
        return min(peak, _count(autoscaling.get("minReplicas")) or 1)
    return peak


def count_release(obj: dict[str, Any], table: ChartTable, oci_charts: dict[tuple[str, str], str]) -> ReleaseCount:
    """The pods one HelmRelease runs on the node."""
    spec = _dict(obj.get("spec"))
    warnings: list[str] = []
    version = str(obj.get("apiVersion", "")).partition("/")[2]
    if version not in HELM_RELEASE_VERSIONS:
        known = ", ".join(sorted(HELM_RELEASE_VERSIONS))
        warnings.append(f"apiVersion {obj.get('apiVersion')} is not one fleet knows ({known}); read as v2")
    if spec.get("valuesFrom"):
        warnings.append("spec.valuesFrom is not read: inline spec.values and the chart defaults are used")
    name = chart_name(obj, oci_charts)
    found = table.find(name) if name else None
    if found is None:
        shown = name or "(chart not named in the HelmRelease)"
        assumed = table.unknown_chart_pods
        basis = f"unknown chart {shown}, counted as {assumed} (assumed) — add it to chart-pods.yaml"
        return ReleaseCount(
            chart=shown,
            known_chart=None,
            pods=assumed,
            basis=basis,
            warnings=[basis, *warnings],
            steady_pods=assumed,
            unrequested=[shown] if assumed else [],
        )
    canonical, entry = found
    values = _dict(spec.get("values"))
    parts = [_component_pods(c, values, warnings) for c in entry.components]
    basis = f"chart {canonical}: " + " + ".join(note for _, note in parts if note)
    steady, peak, steady_pods, unrequested = Requests(), Requests(), 0, []
    for component, (pods, _) in zip(entry.components, parts, strict=True):
        per_pod = _component_requests(component, values)
        low = _steady_pods(component, values, pods)
        steady_pods += low
        if pods and per_pod is None:
            unrequested.append(component.name)
        steady = steady + (per_pod or Requests()) * low
        peak = peak + (per_pod or Requests()) * pods
    return ReleaseCount(
        chart=canonical,
        known_chart=canonical,
        pods=sum(p for p, _ in parts),
        basis=basis,
        warnings=warnings,
        steady_pods=steady_pods,
        requests=steady,
        peak_requests=peak,
        unrequested=unrequested,
    )
