"""Under a real CPU quota (a cgroup limited to 0.5 CPU, as a pod with `limits.cpu: 500m`), the server reports the
quota as a fraction and a CPU job's utilisation is a share of it (ADR 0004), measured in CPU time."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from lh_support import start_server, wait_for
from lh_support_procs import cpu_seconds, job_processes
from load_harness.bench import cgroup

WHY_NOT = cgroup.available()
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(WHY_NOT is not None, reason=f"cannot create a CPU-limited cgroup here: {WHY_NOT}"),
]


def test_quota_is_a_fraction_and_jobs_burn_a_share_of_it(tmp_path: Path) -> None:
    with cgroup.cpu_limited(0.5) as enter:
        server = start_server(tmp_path, preexec=enter)
        try:
            info = server.get("/system/info").json()
            assert info["available_cores"] == 0.5
            assert info["cpu_quota_millicores"] == 500
            assert info["limits"]["cores_max"] == 1
            started = server.post("/load/cpu", json={"cores": 1, "utilization": 50, "duration_seconds": 9})
            assert started.status_code == 200, started.text
            assert started.json()["cpu_cores_target"] == 0.25
            assert wait_for(lambda: len(job_processes(server.proc.pid)) == 1)
            time.sleep(2.0)  # settling, and one CFS period boundary or twenty
            procs = job_processes(server.proc.pid)
            before, t0 = cpu_seconds(procs), time.monotonic()
            time.sleep(5)
            measured = 100 * (cpu_seconds(procs) - before) / (time.monotonic() - t0)
            assert abs(measured - 25.0) <= 2.0, f"50 % of a 0.5-core quota should be 25 % of a core, got {measured:.1f}"
            # Asking for more than the quota allows is refused with the limit named.
            refused = server.post("/load/cpu", json={"cores": 1, "utilization": 60, "duration_seconds": 5})
            assert refused.status_code == 409
            assert "0.5" in refused.json()["detail"]
        finally:
            server.stop()
