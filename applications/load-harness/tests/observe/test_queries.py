"""observe/queries.py: every query parses (promtool checks it as a recording rule), the family is chosen from the
series Prometheus has, and the config refuses a selector that is not PromQL matchers."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from load_harness.observe import queries as q
from load_harness.settings import Settings

PROMTOOL = Path("/usr/bin/promtool")


def promtool_check(tmp_path: Path, exprs: dict[str, str]) -> subprocess.CompletedProcess[str]:
    rules = [{"record": f"lh:check:{i}", "expr": expr} for i, expr in enumerate(exprs.values())]
    path = tmp_path / "queries.rules.yaml"
    path.write_text(json.dumps({"groups": [{"name": "queries", "rules": rules}]}))  # JSON is YAML
    return subprocess.run([str(PROMTOOL), "check", "rules", str(path)], capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize(
    "config",
    [
        q.QueryConfig(namespace="applications"),
        # Quotes and backslashes in values must stay inside their string literal.
        q.QueryConfig(namespace='we"ird\\ns', container="c", app_selector='job="lh", namespace=~"a|b",', hpa="h"),
    ],
)
def test_every_query_parses_as_a_recording_rule(tmp_path: Path, config: q.QueryConfig) -> None:
    exprs = q.all_queries(config)
    result = promtool_check(tmp_path, exprs)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(exprs)} rules found" in result.stdout


def test_promtool_rejects_a_broken_query(tmp_path: Path) -> None:
    # The check above proves something only if promtool fails on a query that does not parse.
    assert promtool_check(tmp_path, {"broken": "sum by (pod (rate(x[1m]))"}).returncode != 0


def test_all_queries_cover_every_figure_and_both_families() -> None:
    names = set(q.all_queries(q.QueryConfig(namespace="ns")))
    for family in ("kubernetes", "local"):
        assert {f"pod_cpu_cores:{family}", f"pod_memory_bytes:{family}", f"pod_count:{family}"} <= names
        assert {f"pod_percent:{family}:cpu:limits", f"pod_percent:{family}:memory:limits"} <= names
    # Only the cluster has requests (kube-state-metrics); a local process has limits alone.
    assert "pod_percent:kubernetes:cpu:requests" in names
    assert "pod_percent:local:cpu:requests" not in names
    assert {"request_rate", "error_ratio", "latency_quantile:0.5", "latency_quantile:0.99"} <= names
    assert {"hpa_replicas:current", "hpa_replicas:desired"} <= names


def test_queries_use_the_configured_namespace_container_and_selector() -> None:
    config = q.QueryConfig(namespace="prod", container="web", app_selector='service="lh"', rate_window_seconds=30)
    k8s_cpu = q.pod_cpu_cores(config, q.Family.KUBERNETES)
    assert 'namespace="prod"' in k8s_cpu
    assert 'container="web"' in k8s_cpu
    assert "[30s]" in k8s_cpu
    assert 'service="lh"' in q.pod_cpu_cores(config, q.Family.LOCAL)
    percent = q.pod_percent(config, q.Family.KUBERNETES, "memory", "requests")
    assert percent is not None
    assert "container_memory_working_set_bytes" in percent
    assert 'kube_pod_container_resource_requests{namespace="prod", container="web", resource="memory"}' in percent
    assert 'path!~"' in q.request_rate(config)
    assert 'horizontalpodautoscaler="load-harness"' in q.hpa_replicas(config, "desired")


def test_family_follows_the_series_present() -> None:
    assert q.family_of({q.PROBE_CADVISOR, q.PROBE_LOCAL}) is q.Family.KUBERNETES
    assert q.family_of({q.PROBE_LOCAL}) is q.Family.LOCAL
    # kube-state-metrics without cAdvisor has no usage to put against the limits.
    assert q.family_of({q.PROBE_KUBE_STATE}) is None
    assert q.family_of(set()) is None


@pytest.mark.parametrize("selector", ['app.kubernetes.io/name="load-harness"', "job=load-harness", "", '{job="x"}'])
def test_selector_that_is_not_matchers_is_refused_naming_the_setting(selector: str) -> None:
    with pytest.raises(ValueError, match="OBSERVE_APP_LABEL must be PromQL label matchers"):
        q.QueryConfig(namespace="ns", app_selector=selector)


def test_config_from_settings_defaults_to_the_pods_namespace() -> None:
    settings = Settings(namespace="applications", observe_container="lh", observe_rate_window_seconds=60)
    config = q.QueryConfig.from_settings(settings)
    assert (config.namespace, config.container, config.window) == ("applications", "lh", "60s")
    assert config.app_selector == 'job="load-harness"'
    assert q.QueryConfig.from_settings(Settings(namespace="a", observe_namespace="b")).namespace == "b"
