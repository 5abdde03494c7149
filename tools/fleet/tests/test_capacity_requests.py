"""CPU and memory requests: quantities, the effective-request rule, EKS's reservations, chart defaults and overrides."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fleet.capacity.allocatable import kube_reserved_cpu_m, kube_reserved_memory_mib, node_allocatable
from fleet.capacity.charts import count_release, load_chart_table
from fleet.capacity.enis import load_instance_types, max_pods
from fleet.capacity.requests import MIB, Requests, cpu_millicores, memory_bytes, parse_quantity, pod_requests
from fleet.capacity.system import load_system_table, system_rows
from fleet.validate.budget import terraform_addons

REPO = Path(__file__).resolve().parents[3]
K8S_CHART_TABLE = REPO / "k8s" / "infrastructure" / "controllers" / "chart-pods.yaml"


def container(name: str, cpu: str | None = None, memory: str | None = None, **extra: Any) -> dict[str, Any]:
    requests = {k: v for k, v in (("cpu", cpu), ("memory", memory)) if v is not None}
    return {"name": name, "resources": {"requests": requests}, **extra}


@pytest.mark.parametrize(("raw", "millicores"), [("250m", 250), ("1", 1000), ("0.5", 500), ("1500u", 2)])
def test_cpu_quantities(raw: str, millicores: int) -> None:
    assert cpu_millicores(raw) == millicores  # a fraction of a millicore rounds up, never to 0


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("256Mi", 256 * MIB), ("1.5Gi", 3 * 512 * MIB), ("1G", 10**9), ("128974848", 128974848), ("1e3", 1000)],
)
def test_memory_quantities(raw: str, expected: int) -> None:
    assert memory_bytes(raw) == expected


def test_bad_quantity_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="'lots' is not a Kubernetes quantity"):
        parse_quantity("lots")


def test_effective_request_is_max_of_init_and_sum_of_containers() -> None:
    spec = {
        "initContainers": [container("big-init", "900m", "64Mi"), container("small-init", "10m", "1Gi")],
        "containers": [container("a", "250m", "256Mi"), container("b", "250m", "128Mi")],
    }
    requests, found = pod_requests(spec)
    assert found
    # CPU: the 900m init container beats 500m of containers; memory: the 1Gi init beats 384Mi.
    assert requests == Requests(cpu_m=900, memory_bytes=1024 * MIB)


def test_sidecars_add_to_both_sides_and_limits_default_requests() -> None:
    spec = {
        "initContainers": [
            container("proxy", "100m", "50Mi", restartPolicy="Always"),
            container("migrate", "300m"),
        ],
        "containers": [{"name": "app", "resources": {"limits": {"cpu": "200m", "memory": "100Mi"}}}],
    }
    requests, _ = pod_requests(spec)
    # migrate runs beside the sidecar: 400m; the app (limits as requests) + sidecar: 300m, 150Mi.
    assert requests == Requests(cpu_m=400, memory_bytes=150 * MIB)


def test_no_requests_anywhere_counts_zero_and_says_so() -> None:
    assert pod_requests({"containers": [{"name": "a"}]}) == (Requests(), False)


def test_t3_large_reservations_at_110_pods() -> None:
    assert kube_reserved_cpu_m(2) == 70  # 6 % of the first core + 1 % of the second
    assert kube_reserved_cpu_m(4) == 80  # + 0.5 % of cores 3 and 4
    assert kube_reserved_cpu_m(8) == 90  # + 0.25 % of cores 5-8
    assert kube_reserved_memory_mib(110) == 255 + 1210
    table = load_instance_types()
    node = max_pods(table, "t3.large", prefix_delegation=True)
    room = node_allocatable("t3.large", node.spec, node.max_pods)
    assert room is not None
    assert room.requests == Requests(cpu_m=2000 - 70, memory_bytes=(8192 - 1465 - 100) * MIB)


def test_a_type_without_memory_cannot_be_sized() -> None:
    spec = load_instance_types().instance_types["t3.large"].model_copy(update={"memory_mib": None})
    assert node_allocatable("t3.large", spec, 35) is None


def _release(chart: str, values: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "helm.toolkit.fluxcd.io/v2",
        "kind": "HelmRelease",
        "metadata": {"name": chart, "namespace": "x"},
        "spec": {"chart": {"spec": {"chart": chart}}, "values": values},
    }


def test_release_values_override_the_chart_default_requests() -> None:
    table = load_chart_table(K8S_CHART_TABLE)
    default = count_release(_release("gateway-helm", {}), table, {})
    # envoy-gateway 100m / 256Mi (chart default) + the envoy proxy 110m / 544Mi (Envoy Gateway's defaults).
    assert default.requests == Requests(cpu_m=210, memory_bytes=800 * MIB)
    lowered = {"deployment": {"envoyGateway": {"resources": {"requests": {"cpu": "50m", "memory": "128Mi"}}}}}
    counted = count_release(_release("gateway-helm", lowered), table, {})
    assert counted.requests == Requests(cpu_m=160, memory_bytes=672 * MIB)
    assert counted.unrequested == []


def test_a_component_with_no_requests_is_named() -> None:
    table = load_chart_table(K8S_CHART_TABLE)
    values = {"resources": {"requests": {"cpu": "10m", "memory": "64Mi"}}}  # the controller only
    counted = count_release(_release("cert-manager", values), table, {})
    assert counted.unrequested == ["cainjector", "webhook"]
    assert counted.requests == Requests(cpu_m=10, memory_bytes=64 * MIB)


def test_autoscaled_chart_is_steady_at_min_and_peaks_at_max() -> None:
    values = {"hpa": {"enabled": True, "minReplicas": 2, "maxReplicas": 5}, "resources": {"requests": {"cpu": "1"}}}
    table = load_chart_table()  # the packaged table's podinfo entry
    entry = table.charts["podinfo"].components[0].model_copy(update={"resources_value": "resources"})
    table = table.model_copy(
        update={"charts": {"podinfo": table.charts["podinfo"].model_copy(update={"components": [entry]})}}
    )
    counted = count_release(_release("podinfo", values), table, {})
    assert (counted.steady_pods, counted.pods) == (2, 5)
    assert (counted.requests.cpu_m, counted.peak_requests.cpu_m) == (2000, 5000)


def test_fleets_default_add_ons_are_terraforms() -> None:
    """data/system-pods.yaml's default set is the cluster module's `addons` map: the budget and Terraform agree."""
    addons, warnings = terraform_addons(REPO)
    assert warnings == []
    assert addons is not None
    assert sorted(addons) == sorted(load_system_table().default_addons)
    assert "aws-ebs-csi-driver" in addons


def test_system_rows_carry_sourced_requests() -> None:
    table = load_system_table()
    rows = {row.name: row for row in system_rows(table, table.default_addons, {})}
    assert rows["vpc-cni"].requests == Requests(cpu_m=50)
    assert rows["eks-pod-identity-agent"].requests == Requests()  # known: the chart requests nothing
    assert rows["coredns"].requests is None  # unknown: counted 0 with a warning
    assert all(entry.requests is None or entry.requests_source for entry in table.addons.values())
