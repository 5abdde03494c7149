"""load_harness/writable.py lists every directory the app writes: a real `load-harness serve` runs with an audit
hook in each of its processes (sitecustomize on PYTHONPATH: serve, the supervisor, gunicorn's workers, job and
driver-shard processes all load it), is exercised (health, ready, metrics, CPU and memory jobs, a tiny load test,
shutdown), and every path any of them opened for writing, created, renamed or removed must lie under one of the
listed directories. The image runs on a read-only root, so a path outside the list would fail there.

What an audit hook cannot see: C code writing without Python's os/io (SQLite's own -journal/-wal files beside the
database, which its `sqlite3.connect` event stands for; POSIX semaphores in /dev/shm, a separate tmpfs in Docker
and Kubernetes alike). fleet validate's writable-paths check then proves each listed directory is a writable mount
in compose.yaml and in the Deployment."""

from __future__ import annotations

import json
import os
import textwrap
from pathlib import Path

import pytest
from lh_support import RunningServer, start_server, wait_for
from load_harness.writable import WRITABLE_PATHS, writable_dirs

pytestmark = pytest.mark.slow

AUDIT_LOG_ENV = "LH_WRITE_AUDIT_LOG"
# Kernel interfaces, not the root filesystem: writable under a read-only root too.
NOT_THE_ROOT_FILESYSTEM = ("/dev/null", "/proc/")

# Loaded by every Python process the server starts (PYTHONPATH is inherited). The log is opened before the hook
# is added and written with os.write, which raises no audit event, so the hook never sees itself.
SITECUSTOMIZE = textwrap.dedent(
    """
    import json
    import os
    import sys
    import threading

    _LOG = os.environ.get("LH_WRITE_AUDIT_LOG")
    _WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND
    _PATH_EVENTS = {  # event -> indices of the path arguments that are written
        "os.mkdir": (0,), "os.rename": (1, 0), "os.remove": (0,), "os.rmdir": (0,), "os.symlink": (1,),
        "os.link": (1,), "os.truncate": (0,), "os.mkfifo": (0,), "os.mknod": (0,), "os.chmod": (0,),
        "os.chown": (0,), "os.utime": (0,), "shutil.copyfile": (1,), "shutil.rmtree": (0,),
        "tempfile.mkstemp": (0,), "tempfile.mkdtemp": (0,), "sqlite3.connect": (0,),
    }
    _DIR_FD_ARG = {"os.mkdir": 2, "os.remove": 1, "os.rmdir": 1, "os.chmod": 2, "os.chown": 3, "os.utime": 3}
    _busy = threading.local()

    def _absolute(path, dir_fd):
        if isinstance(path, bytes):
            path = os.fsdecode(path)
        if not isinstance(path, str) or not path or path == ":memory:" or path.startswith("file::memory:"):
            return None
        if path.startswith("file:"):  # an sqlite URI
            path = path[5:].split("?", 1)[0]
        if isinstance(dir_fd, int) and not os.path.isabs(path):
            return os.path.join(os.readlink(f"/proc/self/fd/{dir_fd}"), path)
        return os.path.abspath(path)

    def _record(event, path, dir_fd=None):
        absolute = _absolute(path, dir_fd)
        if absolute is not None:
            line = json.dumps({"pid": os.getpid(), "event": event, "path": absolute}) + "\\n"
            os.write(_FD, line.encode())

    def _hook(event, args):
        if getattr(_busy, "on", False):
            return
        _busy.on = True
        try:
            if event == "open" and len(args) >= 3:
                path, mode, flags = args[0], args[1], args[2]
                writes = (isinstance(flags, int) and flags & _WRITE_FLAGS) or (
                    isinstance(mode, str) and any(c in mode for c in "wax+")
                )
                if writes:
                    _record(event, path)
            elif event == "socket.bind" and len(args) >= 2 and isinstance(args[1], (str, bytes)):
                address = os.fsdecode(args[1])
                if address and not address.startswith("\\0"):  # a filesystem unix socket, not an abstract one
                    _record(event, address)
            elif event in _PATH_EVENTS:
                dir_fd = args[_DIR_FD_ARG[event]] if event in _DIR_FD_ARG and len(args) > _DIR_FD_ARG[event] else None
                for index in _PATH_EVENTS[event]:
                    if index < len(args):
                        _record(event, args[index], dir_fd)
        except Exception as exc:  # a hook must never break the app; the failure is logged, and fails the test
            os.write(_FD, (json.dumps({"pid": os.getpid(), "event": "hook-error", "path": repr(exc)}) + "\\n").encode())
        finally:
            _busy.on = False

    if _LOG:
        _FD = os.open(_LOG, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        sys.addaudithook(_hook)
    """
)


def under(path: Path, directories: list[Path]) -> bool:
    return any(path == d or d in path.parents for d in directories)


def exercise(server: RunningServer) -> None:
    """What a pod does in its life, short: probes, a scrape, both job kinds, direct work, a driver run."""
    for path in ("/health", "/ready", "/metrics", "/system/info", "/version"):
        assert server.get(path).status_code == 200, path
    cpu = server.post("/load/cpu", json={"cores": 1, "utilization": 20, "duration_seconds": 30})
    assert cpu.status_code == 200, cpu.text
    memory = server.post("/load/memory", json={"size_mb": 8, "duration_seconds": 30})
    assert memory.status_code == 200, memory.text
    memory_id = memory.json()["job_id"]

    def memory_held() -> bool:
        jobs = server.get("/load/memory/status?limit=100").json()["jobs"]
        return any(j["job_id"] == memory_id and j.get("peak_rss_bytes") for j in jobs)

    assert wait_for(memory_held, timeout=60)
    assert server.post("/load/cpu/work", json={"cpu_ms": 2}).status_code == 200
    run = server.post("/runs", json={"rate": 20, "duration_seconds": 1, "cpu_ms": 1})
    assert run.status_code == 202, run.text
    run_id = run.json()["run_id"]
    assert wait_for(lambda: server.get(f"/runs/{run_id}").json()["status"] == "completed", timeout=90)
    assert server.post("/load/cpu/stop", json={}).status_code == 200
    assert server.post("/load/memory/stop", json={"job_id": memory_id}).status_code == 200
    assert server.get("/metrics").status_code == 200


def read_audit(log: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines() if line.strip()]


@pytest.fixture(scope="module")
def audited_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[dict[str, object]], list[Path]]:
    """One audited server life for every assertion below (starting one costs seconds)."""
    base = tmp_path_factory.mktemp("writable")
    hook_dir, work = base / "hook", base / "work"
    hook_dir.mkdir()
    work.mkdir()
    (hook_dir / "sitecustomize.py").write_text(SITECUSTOMIZE, encoding="utf-8")
    # The image's directories, moved under the test's own: same variables, same meaning.
    moved = {name: base / name.lower() for name in WRITABLE_PATHS}
    for directory in moved.values():
        directory.mkdir()
    log = base / "writes.jsonl"
    env = {name: str(path) for name, path in moved.items()}
    env.update(
        {
            AUDIT_LOG_ENV: str(log),
            "PYTHONPATH": os.pathsep.join(filter(None, [str(hook_dir), os.environ.get("PYTHONPATH", "")])),
            # As in the image: bytecode would be written beside the (editable) sources, outside every mount.
            "PYTHONDONTWRITEBYTECODE": "1",
            # Empty: the image's default store, SQLite under DATA_DIR (launch() otherwise puts it in `work`).
            "DATABASE_URL": "",
        }
    )
    server = start_server(work, workers=2, extra_env=env)
    try:
        exercise(server)
    finally:
        server.stop()
    # The server's own log file lives in `work`, opened by this process (not audited), never by the server.
    return read_audit(log), writable_dirs(env)


def test_the_audit_saw_every_kind_of_process(audited_run: tuple[list[dict[str, object]], list[Path]]) -> None:
    events, _ = audited_run
    assert events, "the audit hook recorded nothing: it did not load, so the next test would prove nothing"
    # serve, the supervisor, gunicorn's master and two workers, job processes, a driver shard: several processes.
    assert len({e["pid"] for e in events}) >= 3, events
    assert not [e for e in events if e["event"] == "hook-error"]


def test_every_write_lies_under_a_declared_writable_path(
    audited_run: tuple[list[dict[str, object]], list[Path]],
) -> None:
    events, directories = audited_run
    resolved = [d.resolve() for d in directories]
    outside = sorted(
        {
            f"{e['event']} {e['path']}"
            for e in events
            if not str(e["path"]).startswith(NOT_THE_ROOT_FILESYSTEM)
            and not under(Path(str(e["path"])).resolve(), resolved)
        }
    )
    assert not outside, f"written outside {', '.join(WRITABLE_PATHS)} (load_harness/writable.py): {outside}"


def test_each_declared_path_is_written(audited_run: tuple[list[dict[str, object]], list[Path]]) -> None:
    """The list is not padded: every entry is a directory the app really writes."""
    events, directories = audited_run
    for name, directory in zip(WRITABLE_PATHS, directories, strict=True):
        assert any(under(Path(str(e["path"])).resolve(), [directory.resolve()]) for e in events), name
