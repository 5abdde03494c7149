"""``python -m load_harness.bench``: for now, run the workload benches and print their figures as JSON."""

from __future__ import annotations

import json
import sys

from load_harness.bench.workloads import cpu_accuracy, memory_accuracy, work_overhead


def main() -> int:
    results = {
        "cpu_accuracy": cpu_accuracy(),
        "memory_accuracy": memory_accuracy(),
        "work_overhead": work_overhead(),
    }
    json.dump(results, sys.stdout, indent=2)
    sys.stdout.write("\n")
    return 0


# The guard matters beyond style: spawned pool workers import this module as __mp_main__.
if __name__ == "__main__":
    sys.exit(main())
