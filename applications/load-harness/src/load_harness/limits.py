"""Every request limit, in one place. API validation, the dashboard's sliders and the docs read from here.

Static bounds are constants. Bounds that depend on the container (cores, memory) are computed from the cgroup
limits once per process by `current_limits()`.
"""

from __future__ import annotations

import functools
import math
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from load_harness.cgroups import read_limits

if TYPE_CHECKING:
    # Only the pod's limits need the settings. The request and run bounds here are plain constants, and the
    # driver reads them without loading pydantic-settings (5 MB of a driver shard's RSS).
    from load_harness.settings import Settings

MIB = 1024 * 1024

# CPU jobs (POST /load/cpu). The original's ranges, plus utilisation.
CPU_CORES_MAX = 64
CPU_DURATION_MIN_S = 1
CPU_DURATION_MAX_S = 3600
CPU_DURATION_DEFAULT_S = 60
UTILIZATION_MIN = 1
UTILIZATION_MAX = 100
INTENSITY_MIN = 1
INTENSITY_MAX = 10

# Memory jobs (POST /load/memory).
MEMORY_MB_MIN = 1
MEMORY_MB_MAX = 65_536
MEMORY_MB_DEFAULT = 50
MEMORY_DURATION_MIN_S = 1
MEMORY_DURATION_MAX_S = 3600
MEMORY_DURATION_DEFAULT_S = 30

# Blocking memory allocation (POST /load/memory/sync).
MEMORY_SYNC_DURATION_MIN_MS = 1
MEMORY_SYNC_DURATION_MAX_MS = 120_000
MEMORY_SYNC_DURATION_DEFAULT_MS = 1000
# A sync reserves its bytes in the pod's memory budget for duration_ms plus this; if its web worker dies without
# releasing them, the supervisor reaps the reservation, and the deadline is the backstop when none runs. Generous:
# allocating and touching the largest size a container allows takes seconds, not a minute.
MEMORY_SYNC_RESERVE_GRACE_S = 60.0

# Per-request work (POST /load/cpu/work).
ITERATIONS_MIN = 1_000
ITERATIONS_MAX = 10_000_000
ITERATIONS_DEFAULT = 100_000
CPU_MS_MIN = 0.1
CPU_MS_MAX = 10_000.0
WORK_TIMEOUT_S = 30.0

# Chaos.
FAIL_RATE_MIN = 0.0
FAIL_RATE_MAX = 1.0
FAIL_LATENCY_MS_MAX = 60_000

# Listing.
LIST_LIMIT_DEFAULT = 50
LIST_LIMIT_MAX = 500
# Job and run ids (path parameters, job_id in stop requests): the store's key columns are 64 characters.
ID_MAX_LENGTH = 64

# Failed authentication, per client address, in a sliding window (security/throttle.py). One budget for a wrong
# X-API-Key, Bearer token, Flagger metadata.token or dashboard login. Over it, every attempt from that address, the
# right key included, gets a 429 with Retry-After until the oldest of those failures is AUTH_FAILURE_WINDOW_S old.
AUTH_FAILURES_PER_WINDOW = 5
AUTH_FAILURE_WINDOW_S = 60


@dataclass(frozen=True)
class PodLimits:
    """The bounds that depend on this container."""

    available_cores: float
    cpu_millicores: int
    cores_max: int
    cpu_budget_cores: float
    memory_limit_mb: int | None
    memory_max_mb: int
    max_concurrent_jobs: int
    # Driver runs this pod's supervisor runs (placement "local"): runs at once, and their shard processes in all.
    max_concurrent_runs: int
    max_shard_processes: int

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@functools.lru_cache(maxsize=1)
def current_limits() -> PodLimits:
    from load_harness.settings import get_settings

    return compute_limits(get_settings())


def compute_limits(settings: Settings) -> PodLimits:
    container = read_limits()
    available = container.available_cores
    budget = available * settings.cpu_overcommit
    # A job may ask for as many burner processes as the budget rounds up to, so 0.5 cores still allows cores=1.
    cores_max = max(1, min(CPU_CORES_MAX, math.ceil(budget - 1e-9)))
    limit_mb = container.memory_limit_bytes // MIB if container.memory_limit_bytes else None
    ceiling_mb = container.effective_memory_bytes // MIB - settings.memory_safety_mb
    memory_max = max(MEMORY_MB_MIN, min(MEMORY_MB_MAX, ceiling_mb))
    return PodLimits(
        available_cores=round(available, 3),
        cpu_millicores=container.cpu_millicores,
        cores_max=cores_max,
        cpu_budget_cores=round(budget, 3),
        memory_limit_mb=limit_mb,
        memory_max_mb=memory_max,
        max_concurrent_jobs=settings.max_concurrent_jobs,
        max_concurrent_runs=settings.max_concurrent_runs,
        max_shard_processes=settings.max_shard_processes or shard_processes_default(available),
    )


def shard_processes_default(available_cores: float) -> int:
    """MAX_SHARD_PROCESSES=0 (auto): two driver processes per available core, at least 2.

    A shard is one event loop that keeps one core busy at its peak; two per core leaves room for shards that wait
    on a slow target, while a fixed number would be too many on a one-core pod and too few on a large node."""
    return max(2, math.ceil(2 * available_cores - 1e-9))


# Driver runs, however started: the API, the dashboard, the Flagger webhook and the CLI alike. Each is checked by
# driver.spec.check_bound, which reads the value here when it checks (so a changed value applies everywhere at
# once); the OpenAPI document and the dashboard's form read them the same way.
DRIVER_RATE_MAX = 20_000.0
DRIVER_CONCURRENCY_MAX = 1_000
DRIVER_DURATION_MAX_S = 3_600
DRIVER_DURATION_DEFAULT_S = 30
DRIVER_REQUESTS_MAX = 10_000_000
DRIVER_BODY_MAX_BYTES = 16 * 1024
DRIVER_HEADERS_MAX = 32
DRIVER_TIMEOUT_MAX_S = 60.0
DRIVER_SHARDS_MAX = 16
DRIVER_THRESHOLDS_MAX = 16
DRIVER_URL_MAX = 2_048
FLAGGER_DURATION_MAX_S = 600
FLAGGER_CMD_MAX = 4_096  # a `hey` or `drive` line; split by shlex, pure Python: keep it short (bodies: metadata.body)
DRIVER_HEADER_NAME_MAX = 256
DRIVER_HEADER_VALUE_MAX = 4_096

# Text the driver parses, per item, checked before any parsing (API, dashboard, Flagger and the CLI alike). Real
# values are a few characters; the caps bound each parser's work whatever size the request body is.
THRESHOLD_TEXT_MAX = 64  # "service.p99.9<=1500.25ms" is 24
DURATION_TEXT_MAX = 32  # "1h30m15s500ms" is 13
STAGE_TEXT_MAX = 64  # one "DURATION:TARGET" item of --stages
DRIVER_STAGES_TEXT_MAX = 512  # the whole stages string of an API run
