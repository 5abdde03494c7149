"""Live metrics and the pod monitor: local figures, the explicit "no cluster source" state, and reasons instead of
silent placeholders when a source cannot be read."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

from flask import Flask
from load_harness.context import KEY
from load_harness.observe import LocalProvider, Providers, UnconfiguredClusterProvider
from load_harness.store import pods as pod_store


def test_local_scope_shows_every_figure(ui: Any) -> None:
    html = ui.get("/ui/partials/metrics?scope=pod").get_data(as_text=True)
    for label in ("CPU", "Memory", "Pods", "Request rate"):
        assert f'data-figure="{label}"' in html
    assert "Memory</dt>\n  \n  <dd>" in html or "MiB" in html
    assert "--" not in html


def test_cluster_scope_says_no_source_is_configured(ui: Any) -> None:
    html = ui.get("/ui/partials/metrics?scope=cluster").get_data(as_text=True)
    assert "No cluster metrics source is configured." in html
    assert html.count("Not available:") == 4
    assert "--" not in html
    pods = ui.get("/ui/partials/pods?scope=cluster").get_data(as_text=True)
    assert "No cluster metrics source is configured." in pods


def test_cluster_mode_defaults_to_the_cluster_scope(app_factory: Any) -> None:
    app = app_factory(environment="production")
    html = app.test_client().get("/ui/partials/metrics").get_data(as_text=True)
    assert "No cluster metrics source is configured." in html


def test_an_unreachable_prometheus_is_explained_not_blank(app_factory: Any) -> None:
    # A port nothing listens on: the cluster view must name the URL and say why there are no figures.
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    app = app_factory(environment="production", prometheus_url=url)
    html = app.test_client().get("/ui/partials/metrics").get_data(as_text=True)
    assert f"Prometheus at {url} is unreachable" in html


def test_unreadable_cgroup_falls_back_and_says_so(app: Flask, tmp_path: Path) -> None:
    context = app.extensions[KEY]
    empty = tmp_path / "no-cgroup"
    empty.mkdir()
    clock = [1000.0]
    local = LocalProvider(
        context.engine, "test-pod", 2.0, 512, clock=lambda: clock[0], cgroup_root=str(empty), proc_root=str(empty)
    )
    clock[0] += 1.0  # a rate needs two samples far enough apart
    overview = local.overview()
    assert overview.cpu.reason == "no cgroup CPU counter: this is the whole host"
    assert overview.memory.reason == "no cgroup memory counter: this is the whole host"
    assert overview.cpu.value is not None


def test_rates_need_two_samples_and_say_so(app: Flask) -> None:
    context = app.extensions[KEY]
    clock = [1000.0]
    local = LocalProvider(context.engine, "test-pod", 2.0, None, clock=lambda: clock[0])
    first = local.overview()
    assert first.cpu.value is None
    assert first.cpu.reason == "measuring: a rate needs two samples"
    clock[0] += 1.0
    assert local.overview().cpu.value is not None


def test_pod_count_reads_heartbeats(app: Flask) -> None:
    context = app.extensions[KEY]
    local = LocalProvider(context.engine, "test-pod", 2.0, None)
    assert local.overview().pods.value == 0
    assert "no supervisor has sent a heartbeat" in (local.overview().pods.reason or "")
    pod_store.register_supervisor(context.engine, "test-pod", "sup-1")
    pod_store.register_supervisor(context.engine, "other-pod", "sup-2")
    assert local.overview().pods.value == 2


def test_pod_monitor_lists_this_pod_with_bars_and_others_with_a_reason(app: Flask, ui: Any) -> None:
    context = app.extensions[KEY]
    pod_store.register_supervisor(context.engine, "test-pod", "sup-1")
    pod_store.register_supervisor(context.engine, "other-pod", "sup-2")
    html = ui.get("/ui/partials/pods?scope=pod").get_data(as_text=True)
    assert 'data-pod="test-pod"' in html
    assert 'data-pod="other-pod"' in html
    assert "<meter" in html
    assert 'low="70" high="90" optimum="0"' in html
    assert "not measured: the local source reads only this pod&#39;s cgroup" in html


def test_unavailable_store_is_stated(app: Flask, ui: Any) -> None:
    context = app.extensions[KEY]

    class Broken:
        def connect(self) -> None:
            from sqlalchemy.exc import OperationalError

            raise OperationalError("select", {}, Exception("database is locked"))

    local = LocalProvider(Broken(), "test-pod", 2.0, None)  # type: ignore[arg-type]
    app.extensions[KEY].use_providers(Providers(local, UnconfiguredClusterProvider(), "pod"))
    html = ui.get("/ui/partials/pods").get_data(as_text=True)
    assert "the store could not be read: OperationalError" in html
    metrics = ui.get("/ui/partials/metrics").get_data(as_text=True)
    assert "Not available: <span data-unavailable>the store could not be read" in metrics
    assert context is not None
