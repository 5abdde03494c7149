"""Container limits and usage against fake cgroup and /proc trees."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from load_harness.cgroups import ContainerLimits, read_limits, read_usage

GIB = 1024**3
HOST_MEM_KB = 8 * 1024 * 1024  # 8 GiB
HOST_CPUS = len(os.sched_getaffinity(0))


def _write(root: Path, rel: str, text: str) -> None:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text + "\n")


def _proc(tmp_path: Path, cgroup_lines: str = "0::/") -> Path:
    proc = tmp_path / "proc"
    _write(proc, "meminfo", f"MemTotal:       {HOST_MEM_KB} kB\nMemFree:        1000 kB")
    _write(proc, "self/cgroup", cgroup_lines)
    return proc


def _v2(tmp_path: Path, cpu_max: str | None = None, memory_max: str | None = None, sub: str = "") -> Path:
    root = tmp_path / "cg"
    _write(root, "cgroup.controllers", "cpuset cpu io memory pids")
    if cpu_max is not None:
        _write(root, f"{sub}cpu.max", cpu_max)
    if memory_max is not None:
        _write(root, f"{sub}memory.max", memory_max)
    return root


def _limits(root: Path, proc: Path) -> ContainerLimits:
    return read_limits(cgroup_root=str(root), proc_root=str(proc))


def test_v2_unlimited(tmp_path: Path) -> None:
    limits = _limits(_v2(tmp_path, "max 100000", "max"), _proc(tmp_path))
    assert limits.cpu_quota_cores is None
    assert limits.memory_limit_bytes is None
    assert limits.host_cpus == HOST_CPUS
    assert limits.available_cores == float(HOST_CPUS)
    assert limits.host_memory_bytes == HOST_MEM_KB * 1024
    assert limits.effective_memory_bytes == HOST_MEM_KB * 1024


@pytest.mark.parametrize(
    ("cpu_max", "cores", "millicores"),
    [("50000 100000", 0.5, 500), ("10000 100000", 0.1, 100), ("250000 100000", None, None)],
)
def test_v2_fractional_quota_is_not_floored(
    tmp_path: Path, cpu_max: str, cores: float | None, millicores: int | None
) -> None:
    limits = _limits(_v2(tmp_path, cpu_max), _proc(tmp_path))
    quota = int(cpu_max.split()[0]) / int(cpu_max.split()[1])
    assert limits.cpu_quota_cores == pytest.approx(quota)
    expected = cores if cores is not None else min(quota, HOST_CPUS)
    assert limits.available_cores == pytest.approx(expected)
    assert limits.cpu_millicores == (millicores if millicores is not None else round(expected * 1000))


def test_v2_memory_limit(tmp_path: Path) -> None:
    limits = _limits(_v2(tmp_path, memory_max=str(GIB)), _proc(tmp_path))
    assert limits.memory_limit_bytes == GIB
    assert limits.effective_memory_bytes == GIB


def test_memory_limit_above_host_is_capped_by_host(tmp_path: Path) -> None:
    limits = _limits(_v2(tmp_path, memory_max=str(64 * GIB)), _proc(tmp_path))
    assert limits.memory_limit_bytes == 64 * GIB
    assert limits.effective_memory_bytes == HOST_MEM_KB * 1024


def test_v2_reads_own_subpath_and_takes_smallest_ancestor(tmp_path: Path) -> None:
    root = _v2(tmp_path)
    _write(root, "kubepods/cpu.max", "200000 100000")
    _write(root, "kubepods/memory.max", str(2 * GIB))
    _write(root, "kubepods/pod1/cpu.max", "30000 100000")
    _write(root, "kubepods/pod1/memory.max", "max")
    limits = _limits(root, _proc(tmp_path, "0::/kubepods/pod1"))
    assert limits.cpu_quota_cores == pytest.approx(0.3)
    assert limits.memory_limit_bytes == 2 * GIB


def test_v2_unmounted_own_path_falls_back_to_root(tmp_path: Path) -> None:
    # An old-style container: /proc/self/cgroup names the host path, but the container's cgroup is the mount.
    root = _v2(tmp_path, "20000 100000", str(GIB))
    limits = _limits(root, _proc(tmp_path, "0::/docker/abc123"))
    assert limits.cpu_quota_cores == pytest.approx(0.2)
    assert limits.memory_limit_bytes == GIB


def _v1(tmp_path: Path, quota: int, period: int = 100000, memory: int = 9223372036854771712) -> Path:
    root = tmp_path / "cg"
    _write(root, "cpu,cpuacct/cpu.cfs_quota_us", str(quota))
    _write(root, "cpu,cpuacct/cpu.cfs_period_us", str(period))
    _write(root, "cpu,cpuacct/cpuacct.usage", "2500000000")
    _write(root, "memory/memory.limit_in_bytes", str(memory))
    _write(root, "memory/memory.usage_in_bytes", "123456")
    return root


def test_v1_unlimited(tmp_path: Path) -> None:
    limits = _limits(_v1(tmp_path, -1), _proc(tmp_path, "2:cpu,cpuacct:/\n4:memory:/\n0::/"))
    assert limits.cpu_quota_cores is None
    assert limits.memory_limit_bytes is None  # 2^63 rounded to a page means no limit
    assert limits.available_cores == float(HOST_CPUS)


def test_v1_quota_and_memory(tmp_path: Path) -> None:
    limits = _limits(_v1(tmp_path, 70000, memory=512 * 1024**2), _proc(tmp_path, "2:cpu,cpuacct:/\n4:memory:/"))
    assert limits.cpu_quota_cores == pytest.approx(0.7)
    assert limits.cpu_millicores == min(700, HOST_CPUS * 1000)
    assert limits.memory_limit_bytes == 512 * 1024**2


def test_v1_separate_cpu_dir_and_subpath(tmp_path: Path) -> None:
    root = tmp_path / "cg"
    _write(root, "cpu/cpu.cfs_quota_us", "-1")
    _write(root, "cpu/cpu.cfs_period_us", "100000")
    _write(root, "cpu/job/cpu.cfs_quota_us", "150000")
    _write(root, "cpu/job/cpu.cfs_period_us", "100000")
    _write(root, "memory/memory.limit_in_bytes", "9223372036854771712")
    _write(root, "memory/job/memory.limit_in_bytes", str(GIB))
    limits = _limits(root, _proc(tmp_path, "1:cpu:/job\n4:memory:/job\n2:cpuacct:/"))
    assert limits.cpu_quota_cores == pytest.approx(1.5)
    assert limits.memory_limit_bytes == GIB


def test_hybrid_prefers_v1_controllers(tmp_path: Path) -> None:
    # Like this machine: v1 controller dirs plus a unified/ hierarchy that holds no cpu or memory controller.
    root = _v1(tmp_path, 50000, memory=GIB)
    _write(root, "unified/cgroup.controllers", "hugetlb")
    _write(root, "unified/cpu.stat", "usage_usec 999")
    proc = _proc(tmp_path, "2:cpu,cpuacct:/\n4:memory:/\n0::/")
    limits = _limits(root, proc)
    assert limits.cpu_quota_cores == pytest.approx(0.5)
    assert limits.memory_limit_bytes == GIB
    usage = read_usage(str(root), str(proc))
    assert usage.cpu_seconds == pytest.approx(2.5)
    assert usage.memory_bytes == 123456


def test_missing_files_mean_unlimited(tmp_path: Path) -> None:
    root = tmp_path / "cg"
    root.mkdir()
    limits = _limits(root, _proc(tmp_path))
    assert limits.cpu_quota_cores is None
    assert limits.memory_limit_bytes is None
    usage = read_usage(str(root), str(tmp_path / "proc"))
    assert usage.cpu_seconds is None
    assert usage.memory_bytes is None


def test_no_proc_falls_back_to_sysconf(tmp_path: Path) -> None:
    limits = read_limits(cgroup_root=str(tmp_path / "none"), proc_root=str(tmp_path / "none"))
    assert limits.host_memory_bytes > 0


def test_garbage_values_are_ignored(tmp_path: Path) -> None:
    limits = _limits(_v2(tmp_path, "lots 100000", "plenty"), _proc(tmp_path))
    assert limits.cpu_quota_cores is None
    assert limits.memory_limit_bytes is None


def test_v2_usage(tmp_path: Path) -> None:
    root = _v2(tmp_path)
    _write(root, "cpu.stat", "usage_usec 1500000\nuser_usec 1000000\nsystem_usec 500000")
    _write(root, "memory.current", "4096")
    usage = read_usage(str(root), str(_proc(tmp_path)))
    assert usage.cpu_seconds == pytest.approx(1.5)
    assert usage.memory_bytes == 4096


def test_v2_usage_prefers_own_cgroup(tmp_path: Path) -> None:
    root = _v2(tmp_path)
    _write(root, "cpu.stat", "usage_usec 9000000")
    _write(root, "memory.current", "999999")
    _write(root, "app/cpu.stat", "usage_usec 1000000")
    _write(root, "app/memory.current", "1000")
    usage = read_usage(str(root), str(_proc(tmp_path, "0::/app")))
    assert usage.cpu_seconds == pytest.approx(1.0)
    assert usage.memory_bytes == 1000


def test_namespace_escaping_path_is_not_followed(tmp_path: Path) -> None:
    root = _v2(tmp_path, "40000 100000")
    limits = _limits(root, _proc(tmp_path, "0::/../../outside"))
    assert limits.cpu_quota_cores == pytest.approx(0.4)


def test_real_machine_reads_something() -> None:
    limits = read_limits()
    assert limits.host_cpus >= 1
    assert limits.available_cores > 0
    assert limits.effective_memory_bytes > 0
