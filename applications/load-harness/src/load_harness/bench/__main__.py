"""`python -m load_harness.bench` (`make bench`): LoadHarness figures as JSON, each next to its peer where one
exists (stress-ng for CPU, the original's measured figures for memory), with the machine it ran on."""

from __future__ import annotations

import json
import os
import platform
import sys
import time
from typing import Any

from load_harness.bench import server, slowclients, workloads


def machine() -> dict[str, Any]:
    return {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "kernel": platform.release(),
        "load_average_1m_at_start": round(os.getloadavg()[0], 2),
    }


def main() -> int:
    results: dict[str, Any] = {"machine": machine()}
    results["cpu_accuracy_vs_stress_ng"] = workloads.cpu_accuracy()
    results["cpu_under_quota_vs_stress_ng"] = server.cpu_under_quota()
    results["memory_job_end_to_end"] = server.memory_job()
    results["health_latency"] = server.health_under_load()
    results["slow_clients_gthread_vs_buffered"] = slowclients.slow_clients()
    results["work_overhead_end_to_end"] = server.work_overhead()
    results["work_pool"] = workloads.work_overhead()
    results["cold_start"] = server.cold_start()
    json.dump(results, sys.stdout, indent=2)
    sys.stdout.write("\n")
    return 0


# The guard matters beyond style: spawned pool workers import this module as __mp_main__.
if __name__ == "__main__":
    sys.exit(main())
