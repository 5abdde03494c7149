"""The local provider: this pod's cgroup (CPU seconds, memory), the process counters of this server, and the
store's pod heartbeats. It is what `ENVIRONMENT=local` shows, and the "this pod" view in a cluster."""

from __future__ import annotations

import glob
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import psutil
from prometheus_client import multiprocess
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

from load_harness.cgroups import read_usage
from load_harness.observe.base import Figure, Overview, PodList, PodUsage, Scope
from load_harness.store import pods as pod_store
from load_harness.telemetry.metrics import REQUEST_TOTAL

MIB = 1024 * 1024
# The supervisor heartbeats every 5 s; three missed beats mean the pod is gone.
POD_ALIVE_S = 15.0
# A rate over less than this is noise; until two samples are this far apart the panel says it is measuring.
MIN_RATE_INTERVAL_S = 0.2
# Requests the dashboard makes to itself would dominate an idle pod's rate, so they are left out.
OWN_PATHS = ("/ui", "/static")


@dataclass
class _Sample:
    at: float
    value: float


class _Rate:
    """A counter turned into a per-second rate from the two most recent samples, shared by a worker's threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._previous: _Sample | None = None
        self._rate: float | None = None

    def update(self, now: float, value: float) -> float | None:
        with self._lock:
            previous = self._previous
            if previous is None or value < previous.value:
                self._previous = _Sample(now, value)  # first sample, or the counter was reset
                return None
            if now - previous.at >= MIN_RATE_INTERVAL_S:
                self._rate = (value - previous.value) / (now - previous.at)
                self._previous = _Sample(now, value)
            return self._rate


def request_count() -> float:
    """Requests this server has answered, all workers together, excluding the dashboard and static files."""
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    total = 0.0
    if directory:
        # Only the counter files: merging the histograms too would cost far more than this panel needs.
        files = glob.glob(os.path.join(directory, "counter_*.db"))
        metrics = multiprocess.MultiProcessCollector.merge(files, accumulate=True)
        families = [m for m in metrics if m.name == "flask_http_request"]
    else:
        families = [m for m in REQUEST_TOTAL.collect() if m.name == "flask_http_request"]
    for family in families:
        for sample in family.samples:
            if sample.name.endswith("_total") and not sample.labels.get("path", "").startswith(OWN_PATHS):
                total += sample.value
    return total


class LocalProvider:
    scope: Scope = "pod"
    source = "this pod's cgroup, its processes and the store's pod heartbeats"

    def __init__(
        self,
        engine: Engine,
        pod_name: str,
        cpu_limit_cores: float,
        memory_limit_mb: int | None,
        clock: Callable[[], float] = time.time,
        cgroup_root: str = "/sys/fs/cgroup",
        proc_root: str = "/proc",
    ) -> None:
        self.engine = engine
        self.pod_name = pod_name
        self.cpu_limit = cpu_limit_cores
        self.memory_limit = (memory_limit_mb * MIB) if memory_limit_mb else float(psutil.virtual_memory().total)
        self.memory_limit_is_host = memory_limit_mb is None
        self.clock = clock
        self.cgroup_root = cgroup_root
        self.proc_root = proc_root
        self._cpu = _Rate()
        self._requests = _Rate()
        # A baseline now, so that the first poll of the panel can already show a rate.
        self._cpu_figure()
        self._request_figure()

    def _cpu_seconds(self) -> tuple[float | None, str]:
        usage = read_usage(self.cgroup_root, self.proc_root)
        if usage.cpu_seconds is not None:
            return usage.cpu_seconds, "cgroup"
        # No readable cgroup (macOS, an unusual mount): the whole host's busy time is the honest fallback.
        times = psutil.cpu_times()
        return times.user + times.system + getattr(times, "nice", 0.0), "host"

    def _cpu_figure(self) -> Figure:
        seconds, origin = self._cpu_seconds()
        if seconds is None:
            return Figure("CPU", "cores", reason="neither the cgroup nor /proc could be read")
        rate = self._cpu.update(self.clock(), seconds)
        if rate is None:
            return Figure("CPU", "cores", limit=self.cpu_limit, reason="measuring: a rate needs two samples")
        note = None if origin == "cgroup" else "no cgroup CPU counter: this is the whole host"
        return Figure("CPU", "cores", value=rate, peak=rate, limit=self.cpu_limit, reason=note)

    def _memory_figure(self) -> Figure:
        usage = read_usage(self.cgroup_root, self.proc_root)
        note = "no container memory limit: the bar is against the host's memory" if self.memory_limit_is_host else None
        if usage.memory_bytes is not None:
            value = float(usage.memory_bytes)
        else:
            value = float(psutil.virtual_memory().used)
            note = "no cgroup memory counter: this is the whole host"
        return Figure("Memory", "bytes", value=value, peak=value, limit=self.memory_limit, reason=note)

    def _request_figure(self) -> Figure:
        try:
            rate = self._requests.update(self.clock(), request_count())
        except OSError as exc:
            return Figure("Request rate", "req/s", reason=f"the request counters could not be read: {exc}")
        if rate is None:
            return Figure("Request rate", "req/s", reason="measuring: a rate needs two samples")
        return Figure("Request rate", "req/s", value=rate, peak=rate, reason="excludes the dashboard's own requests")

    def _pod_rows(self) -> list[tuple[str, float | None]]:
        return pod_store.heartbeats(self.engine)

    def _pods_figure(self, rows: list[tuple[str, float | None]] | None, error: str | None) -> Figure:
        if rows is None:
            return Figure("Pods", "pods", reason=f"the store could not be read: {error}")
        now = self.clock()
        alive = sum(1 for _, beat in rows if beat is not None and now - beat <= POD_ALIVE_S)
        reason = None if alive else f"no supervisor has sent a heartbeat in the last {POD_ALIVE_S:g} s"
        return Figure("Pods", "pods", value=float(alive), peak=float(alive), reason=reason)

    def _read_pods(self) -> tuple[list[tuple[str, float | None]] | None, str | None]:
        try:
            return self._pod_rows(), None
        except SQLAlchemyError as exc:
            return None, type(exc).__name__

    def overview(self) -> Overview:
        rows, error = self._read_pods()
        return Overview(
            scope=self.scope,
            source=self.source,
            cpu=self._cpu_figure(),
            memory=self._memory_figure(),
            pods=self._pods_figure(rows, error),
            request_rate=self._request_figure(),
            taken_at=self.clock(),
        )

    def pods(self) -> PodList:
        rows, error = self._read_pods()
        if rows is None:
            return PodList(self.scope, self.source, unavailable=f"the store could not be read: {error}")
        now = self.clock()
        others = "not measured: the local source reads only this pod's cgroup; a cluster source reports other pods"
        result = [PodUsage(self.pod_name, self._cpu_figure(), self._memory_figure(), "running", this_pod=True)]
        for name, beat in rows:
            if name == self.pod_name:
                continue
            status = "running" if beat is not None and now - beat <= POD_ALIVE_S else "no heartbeat"
            result.append(
                PodUsage(name, Figure("CPU", "cores", reason=others), Figure("Memory", "bytes", reason=others), status)
            )
        return PodList(self.scope, self.source, result)
