"""Under a real CPU quota (a cgroup limited to 0.5 CPU, as a pod with `limits.cpu: 500m`), the server reports the
quota as a fraction and a CPU job's utilisation is a share of it (ADR 0004), measured in CPU time against the time
the burner had a CPU available."""

from __future__ import annotations

from pathlib import Path

import pytest
from lh_support import start_server, wait_for
from lh_support_procs import assert_duty_cycles, favour_cgroup_of, job_processes
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
            started = server.post("/load/cpu", json={"cores": 1, "utilization": 50, "duration_seconds": 60})
            assert started.status_code == 200, started.text
            assert started.json()["cpu_cores_target"] == 0.25
            assert wait_for(lambda: len(job_processes(server.proc.pid)) == 1)
            (burner,) = job_processes(server.proc.pid)
            # Measured like every burner (lh_support_procs.assert_duty_cycles), with the pod's group given the
            # machine's largest CPU weight rather than the burner real-time priority: real-time tasks escape a CFS
            # quota, and the quota is what this test is about. Quota throttling counts as time kept off the CPU.
            # 50 % of a 0.5-core quota is 25 % of a core.
            assert_duty_cycles({burner.pid: 0.25}, boost=favour_cgroup_of, settle_s=2.0)
            # Asking for more than the quota allows (with the first job still running) is refused, the limit named.
            refused = server.post("/load/cpu", json={"cores": 1, "utilization": 60, "duration_seconds": 5})
            assert refused.status_code == 409
            assert "0.5" in refused.json()["detail"]
        finally:
            server.stop()
