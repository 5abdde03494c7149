"""Container-aware limits and usage, read from cgroups (v2, v1 and hybrid) and /proc.

Everything takes the filesystem roots as arguments, so tests run against fake trees. Nothing here floors a CPU
quota to whole cores: a 100m pod is 0.1 cores, not 1 (the original's flaw 8).

Where to look: a controller's files live under its mount (``/sys/fs/cgroup`` for v2; ``/sys/fs/cgroup/cpu``,
``cpu,cpuacct``, ``memory``... for v1; v2 again under ``/sys/fs/cgroup/unified`` on hybrid hosts) joined with the
process's own cgroup path from ``/proc/self/cgroup``. Inside a container with a cgroup namespace that path is "/",
on a host it may be a subpath, and in an old-style container without a namespace the path names a directory that
is not mounted, so the mount root is the fallback. Limits nest, so a limit is the smallest one found from the
process's cgroup up to the mount root.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

# v1 reports "no limit" as a page-rounded 2^63 - 1 (9223372036854771712); anything this large is no limit.
_V1_UNLIMITED_BYTES = 1 << 62
_V1_CPU_DIRS = ("cpu", "cpu,cpuacct", "cpuacct,cpu")
_V1_CPUACCT_DIRS = ("cpuacct", "cpu,cpuacct", "cpuacct,cpu")


@dataclass(frozen=True)
class ContainerLimits:
    host_cpus: int
    cpu_quota_cores: float | None
    memory_limit_bytes: int | None
    host_memory_bytes: int

    @property
    def available_cores(self) -> float:
        """The cores this container may use, as a fraction: a quota of 100m is 0.1."""
        if self.cpu_quota_cores is None:
            return float(self.host_cpus)
        return min(self.cpu_quota_cores, float(self.host_cpus))

    @property
    def cpu_millicores(self) -> int:
        return round(self.available_cores * 1000)

    @property
    def effective_memory_bytes(self) -> int:
        if self.memory_limit_bytes is None:
            return self.host_memory_bytes
        return min(self.memory_limit_bytes, self.host_memory_bytes)


@dataclass(frozen=True)
class CgroupUsage:
    cpu_seconds: float | None
    memory_bytes: int | None


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError):
        return None


def _read_int(path: Path) -> int | None:
    text = _read(path)
    if text is None:
        return None
    try:
        return int(text)
    except ValueError:
        return None


def _self_cgroups(proc_root: str) -> dict[str, str]:
    """Map each v1 controller (and "" for the v2 hierarchy) to this process's cgroup path.

    Lines look like ``4:memory:/kubepods/pod1/abc`` (v1) or ``0::/`` (v2); a v1 line may name several
    controllers (``2:cpu,cpuacct:/``).
    """
    paths: dict[str, str] = {}
    text = _read(Path(proc_root) / "self" / "cgroup") or ""
    for line in text.splitlines():
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        _, controllers, path = parts
        if controllers == "":
            paths[""] = path
        for controller in controllers.split(","):
            if controller:
                paths[controller] = path
    return paths


def _dirs_upwards(mount: Path, own_path: str | None) -> Iterator[Path]:
    """The process's cgroup directory under ``mount`` and each ancestor up to the mount, then the mount itself."""
    seen: set[Path] = set()
    # A path outside our cgroup namespace reads "/../.."; it cannot be resolved under this mount.
    if own_path and ".." not in own_path.split("/"):
        current = mount / own_path.strip("/")
        while True:
            if current.is_dir() and current not in seen:
                seen.add(current)
                yield current
            if current == mount or mount not in current.parents:
                break
            current = current.parent
    if mount.is_dir() and mount not in seen:
        yield mount


def _first_dir(mount: Path, own_path: str | None) -> Path | None:
    """The most specific existing directory: for usage, which is cumulative, we want our own cgroup, not a parent."""
    return next(_dirs_upwards(mount, own_path), None)


def _v2_mount(cgroup_root: Path, controller: str) -> Path | None:
    """The v2 hierarchy holding ``controller``: the root when unified, ``unified/`` on a hybrid host."""
    if (cgroup_root / "cgroup.controllers").is_file():
        return cgroup_root
    unified = cgroup_root / "unified"
    controllers = _read(unified / "cgroup.controllers")
    if controllers is not None and controller in controllers.split():
        return unified
    return None


def _v1_mount(cgroup_root: Path, names: tuple[str, ...], probe: str) -> Path | None:
    for name in names:
        if (cgroup_root / name / probe).is_file():
            return cgroup_root / name
    return None


def _cpu_quota_cores(cgroup_root: Path, own: dict[str, str]) -> float | None:
    quotas: list[float] = []
    v1 = _v1_mount(cgroup_root, _V1_CPU_DIRS, "cpu.cfs_quota_us")
    if v1 is not None:
        for directory in _dirs_upwards(v1, own.get("cpu")):
            quota = _read_int(directory / "cpu.cfs_quota_us")
            period = _read_int(directory / "cpu.cfs_period_us")
            if quota is not None and period and quota > 0:
                quotas.append(quota / period)
        return min(quotas) if quotas else None
    v2 = _v2_mount(cgroup_root, "cpu")
    if v2 is not None:
        for directory in _dirs_upwards(v2, own.get("")):
            fields = (_read(directory / "cpu.max") or "").split()
            if len(fields) == 2 and fields[0] != "max":
                try:
                    quota, period = int(fields[0]), int(fields[1])
                except ValueError:
                    continue
                if quota > 0 and period > 0:
                    quotas.append(quota / period)
    return min(quotas) if quotas else None


def _memory_limit_bytes(cgroup_root: Path, own: dict[str, str]) -> int | None:
    limits: list[int] = []
    v1 = _v1_mount(cgroup_root, ("memory",), "memory.limit_in_bytes")
    if v1 is not None:
        for directory in _dirs_upwards(v1, own.get("memory")):
            limit = _read_int(directory / "memory.limit_in_bytes")
            if limit is not None and 0 < limit < _V1_UNLIMITED_BYTES:
                limits.append(limit)
        return min(limits) if limits else None
    v2 = _v2_mount(cgroup_root, "memory")
    if v2 is not None:
        for directory in _dirs_upwards(v2, own.get("")):
            limit = _read_int(directory / "memory.max")  # "max" does not parse: no limit at this level
            if limit is not None and limit > 0:
                limits.append(limit)
    return min(limits) if limits else None


def _host_cpus() -> int:
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


def _host_memory_bytes(proc_root: str) -> int:
    for line in (_read(Path(proc_root) / "meminfo") or "").splitlines():
        if line.startswith("MemTotal:"):
            fields = line.split()
            multiplier = 1024 if len(fields) > 2 and fields[2].lower() == "kb" else 1
            return int(fields[1]) * multiplier
    # No /proc (macOS, a sandbox): ask the C library.
    try:
        return int(os.sysconf("SC_PAGE_SIZE")) * int(os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError, AttributeError):
        return 0


def read_limits(cgroup_root: str = "/sys/fs/cgroup", proc_root: str = "/proc") -> ContainerLimits:
    """The CPU quota and memory limit that apply to this process, plus the host's CPUs and memory."""
    root = Path(cgroup_root)
    own = _self_cgroups(proc_root)
    quota = _cpu_quota_cores(root, own)
    return ContainerLimits(
        host_cpus=_host_cpus(),
        cpu_quota_cores=None if quota is None or math.isinf(quota) else quota,
        memory_limit_bytes=_memory_limit_bytes(root, own),
        host_memory_bytes=_host_memory_bytes(proc_root),
    )


def _v2_usage_usec(directory: Path) -> int | None:
    for line in (_read(directory / "cpu.stat") or "").splitlines():
        fields = line.split()
        if len(fields) == 2 and fields[0] == "usage_usec":
            try:
                return int(fields[1])
            except ValueError:
                return None
    return None


def _cpu_seconds(root: Path, own: dict[str, str]) -> float | None:
    v1 = _v1_mount(root, _V1_CPUACCT_DIRS, "cpuacct.usage")
    if v1 is not None:
        directory = _first_dir(v1, own.get("cpuacct"))
        nanos = _read_int(directory / "cpuacct.usage") if directory else None
        if nanos is not None:
            return nanos / 1e9
    # cpu.stat's usage_usec exists in every v2 cgroup, even without the cpu controller enabled.
    for mount in (root, root / "unified"):
        if (mount / "cgroup.controllers").is_file():
            directory = _first_dir(mount, own.get(""))
            usec = _v2_usage_usec(directory) if directory else None
            if usec is not None:
                return usec / 1e6
    return None


def _memory_bytes(root: Path, own: dict[str, str]) -> int | None:
    v1 = _v1_mount(root, ("memory",), "memory.usage_in_bytes")
    if v1 is not None:
        directory = _first_dir(v1, own.get("memory"))
        value = _read_int(directory / "memory.usage_in_bytes") if directory else None
        if value is not None:
            return value
    v2 = _v2_mount(root, "memory")
    if v2 is not None:
        directory = _first_dir(v2, own.get(""))
        return _read_int(directory / "memory.current") if directory else None
    return None


def read_usage(cgroup_root: str = "/sys/fs/cgroup", proc_root: str = "/proc") -> CgroupUsage:
    """Cumulative CPU seconds and current memory of this process's cgroup; None for what cannot be read."""
    root = Path(cgroup_root)
    own = _self_cgroups(proc_root)
    return CgroupUsage(cpu_seconds=_cpu_seconds(root, own), memory_bytes=_memory_bytes(root, own))
