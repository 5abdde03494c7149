"""Test support: N LoadHarness processes (`load-harness serve`, distinct POD_NAMEs, one SQLite store) scraped every
second by a real /usr/bin/prometheus, all on 127.0.0.1 and free ports, stopped on exit.

    with start_stack(tmp_path, pods=3) as stack:
        stack.wait_for("up", lambda samples: len(samples) == 3)

Each pod runs in its own cgroup when the machine allows it (root and a writable cgroup tree, as in CI): the pods'
`load_harness_container_*` figures are read from their own cgroup, so without one all pods would report the same
shared CPU counter and no test could tell which pod burns. `Stack.isolated` says whether they got one; a test that
needs per-pod CPU skips with `NOT_ISOLATED` (a kernel reason, which the root conftest accepts in CI).
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import subprocess
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import requests
from lh_support import READY_TIMEOUT_S, RunningServer, start_server
from load_harness.server.launch import free_port

PROMETHEUS = Path("/usr/bin/prometheus")
# The job every pod is scraped under; queries.py's default app selector matches it (job="load-harness").
POD_JOB = "load-harness"
# Generous: only bounds how long a broken stack hangs a test on a stalled shared machine.
TARGETS_UP_TIMEOUT_S = 60.0
HTTP_TIMEOUT_S = 10.0
# Each pod's cgroup: a CPU quota of one core and 1 GiB of memory, like `limits: {cpu: 1, memory: 1Gi}`.
POD_CPU_CORES = 1.0
POD_MEMORY_BYTES = 1024**3
NOT_ISOLATED = "cannot create a CPU-limited cgroup per pod here, so the pods share one CPU counter"
CGROUP_ROOT = Path("/sys/fs/cgroup")
CPU_PERIOD_US = 100_000


@dataclass(frozen=True)
class PodServer:
    name: str
    url: str

    @property
    def address(self) -> str:
        """host:port, as a scrape target."""
        return self.url.removeprefix("http://")


@dataclass(frozen=True)
class Sample:
    """One element of an instant vector: its labels (without __name__ when aggregated) and its value."""

    labels: dict[str, str]
    value: float


@dataclass
class Stack:
    pods: list[PodServer]
    prometheus_url: str
    isolated: bool
    servers: list[RunningServer] = field(default_factory=list)

    def query(self, expr: str) -> list[Sample]:
        """An instant query now; raises on a PromQL error (a test's query is wrong, not the stack)."""
        response = requests.get(f"{self.prometheus_url}/api/v1/query", params={"query": expr}, timeout=HTTP_TIMEOUT_S)
        body = response.json()
        if body.get("status") != "success":
            raise AssertionError(f"query {expr!r} failed: {body.get('error', response.text)}")
        result = body["data"]["result"]
        if body["data"]["resultType"] == "scalar":
            return [Sample({}, float(result[1]))]
        return [Sample(dict(item["metric"]), float(item["value"][1])) for item in result]

    def wait_for(self, expr: str, predicate: Callable[[list[Sample]], bool], timeout: float = 60.0) -> list[Sample]:
        """Poll `expr` until `predicate` accepts its result; that result, or an AssertionError with the last one."""
        deadline = time.monotonic() + timeout
        last: list[Sample] = []
        while True:
            last = self.query(expr)
            if predicate(last):
                return last
            if time.monotonic() >= deadline:
                raise AssertionError(f"{expr!r} never matched within {timeout:g} s; last result: {last}")
            time.sleep(0.5)

    def pod(self, name: str) -> RunningServer:
        return next(s for p, s in zip(self.pods, self.servers, strict=True) if p.name == name)


def prometheus_config(
    pods: Sequence[PodServer], extra_targets: Sequence[tuple[str, str]], rule_files: Sequence[Path]
) -> str:
    """The scrape configuration, as YAML (JSON is YAML, and needs no extra dependency). The pod label is what a
    Kubernetes ServiceMonitor adds from the target's pod; here each static target carries it."""
    scrape_configs: list[dict[str, object]] = [
        {
            "job_name": POD_JOB,
            "static_configs": [{"targets": [p.address], "labels": {"pod": p.name}} for p in pods],
        }
    ]
    by_job: dict[str, list[str]] = {}
    for job, address in extra_targets:
        by_job.setdefault(job, []).append(address)
    scrape_configs += [{"job_name": job, "static_configs": [{"targets": t}]} for job, t in by_job.items()]
    config = {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s", "scrape_timeout": "1s"},
        "rule_files": [str(path) for path in rule_files],
        "scrape_configs": scrape_configs,
    }
    return json.dumps(config, indent=2)


def _own_path(controller: str) -> str:
    for line in Path("/proc/self/cgroup").read_text().splitlines():
        _, controllers, path = line.split(":", 2)
        if controller in controllers.split(","):
            return path
    return "/"


@contextlib.contextmanager
def pod_cgroup() -> Iterator[Callable[[], None] | None]:
    """A cgroup of the pod's own in the v1 cpu, cpuacct and memory controllers, with a 1-core quota and a 1 GiB
    limit; yields a preexec_fn that moves the child into it, or None when the machine will not allow one.
    (bench.cgroup makes a CPU-limited group too, but only in the `cpu` controller: cpuacct, which holds the CPU
    counter the pod reports, would stay shared.)"""
    controllers = ("cpu", "cpuacct", "memory")
    if os.geteuid() != 0 or not all(os.access(CGROUP_ROOT / c, os.W_OK) for c in controllers):
        yield None
        return
    name = f"lh-pod-{secrets.token_hex(4)}"
    groups = [CGROUP_ROOT / c / _own_path(c).strip("/") / name for c in controllers]
    try:
        for group in groups:
            group.mkdir()
        cpu, _, memory = groups
        (cpu / "cpu.cfs_period_us").write_text(str(CPU_PERIOD_US))
        (cpu / "cpu.cfs_quota_us").write_text(str(int(POD_CPU_CORES * CPU_PERIOD_US)))
        (memory / "memory.limit_in_bytes").write_text(str(POD_MEMORY_BYTES))
    except OSError:
        _remove(groups)
        yield None
        return

    def enter() -> None:
        for group in groups:
            (group / "cgroup.procs").write_text(str(os.getpid()))

    try:
        yield enter
    finally:
        _remove(groups)


def _remove(groups: Sequence[Path]) -> None:
    # A cgroup can only be removed once its processes are gone; stragglers move to the parent first.
    for group in groups:
        for _ in range(50):
            if not group.exists():
                break
            with contextlib.suppress(OSError):
                for pid in (group / "cgroup.procs").read_text().split():
                    with contextlib.suppress(OSError):
                        (group.parent / "cgroup.procs").write_text(pid)
                group.rmdir()
                break
            time.sleep(0.1)


def _targets_up(prometheus_url: str, expected: int) -> bool:
    try:
        response = requests.get(f"{prometheus_url}/api/v1/targets", params={"state": "active"}, timeout=HTTP_TIMEOUT_S)
        targets = response.json()["data"]["activeTargets"]
    except (requests.RequestException, ValueError, KeyError):
        return False
    return len(targets) == expected and all(t["health"] == "up" for t in targets)


@contextlib.contextmanager
def _prometheus(workdir: Path, config: str) -> Iterator[str]:
    if not PROMETHEUS.exists():
        raise RuntimeError(f"{PROMETHEUS} is missing: apt-get install prometheus (.ci/run installs it)")
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "prometheus.yml").write_text(config)
    port = free_port()
    log = (workdir / "prometheus.log").open("ab")
    proc = subprocess.Popen(
        [
            str(PROMETHEUS),
            f"--config.file={workdir / 'prometheus.yml'}",
            f"--storage.tsdb.path={workdir / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


@contextlib.contextmanager
def start_stack(
    tmp_path: Path,
    pods: int = 3,
    extra_targets: Sequence[tuple[str, str]] = (),
    rule_files: Sequence[Path] = (),
    extra_env: dict[str, str] | None = None,
) -> Iterator[Stack]:
    """Start `pods` servers named pod-0 … pod-{N-1} sharing one store, and a Prometheus scraping them and
    `extra_targets` ((job, host:port) pairs) with `rule_files` loaded; yields once every target is up."""
    store = f"sqlite:///{tmp_path / 'shared-store.db'}"
    with contextlib.ExitStack() as stack:
        servers: list[RunningServer] = []
        isolated = True
        for index in range(pods):
            enter = stack.enter_context(pod_cgroup())
            isolated = isolated and enter is not None
            workdir = tmp_path / f"pod-{index}"
            workdir.mkdir()
            server = start_server(
                workdir, pod=f"pod-{index}", database_url=store, extra_env=extra_env, wait=False, preexec=enter
            )
            stack.callback(server.stop)
            servers.append(server)
        for server in servers:
            server.wait_ready(timeout=READY_TIMEOUT_S)
        members = [PodServer(f"pod-{i}", s.url) for i, s in enumerate(servers)]
        config = prometheus_config(members, extra_targets, rule_files)
        url = stack.enter_context(_prometheus(tmp_path / "prometheus", config))
        deadline = time.monotonic() + TARGETS_UP_TIMEOUT_S
        expected = pods + len(extra_targets)
        while not _targets_up(url, expected):
            if time.monotonic() >= deadline:
                log = (tmp_path / "prometheus" / "prometheus.log").read_text(errors="replace")
                raise RuntimeError(f"Prometheus targets not all up after {TARGETS_UP_TIMEOUT_S:g} s:\n{log[-4000:]}")
            time.sleep(0.2)
        yield Stack(members, url, isolated, servers)
