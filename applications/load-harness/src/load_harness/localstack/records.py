"""Processes the stack started, recorded on disk: the pid and its start time, so that `down` never signals a pid
that was reused by an unrelated process after ours exited."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from urllib.error import URLError
from urllib.request import urlopen

import psutil
from pydantic import BaseModel, ConfigDict

# psutil's start times are rounded differently from one read to the next; a reused pid starts seconds later.
START_TIME_TOLERANCE_S = 0.5


class ProcessRecord(BaseModel):
    """One process the stack started, as written to `<name>.json` in the stack's pid directory."""

    model_config = ConfigDict(frozen=True)
    name: str
    pid: int
    started_at: float  # psutil create_time of `pid`, the proof that a live pid is still ours
    command: list[str]
    log: str
    url: str = ""


def _process(record: ProcessRecord) -> psutil.Process | None:
    """The live process the record names, or None when it has exited (a zombie has) or the pid is someone else's."""
    try:
        proc = psutil.Process(record.pid)
        if abs(proc.create_time() - record.started_at) > START_TIME_TOLERANCE_S:
            return None
        if proc.status() == psutil.STATUS_ZOMBIE:
            return None
    except psutil.Error:
        return None
    return proc


def is_running(record: ProcessRecord) -> bool:
    return _process(record) is not None


def spawn(
    name: str,
    command: Sequence[str],
    log: Path,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    url: str = "",
) -> tuple[ProcessRecord, subprocess.Popen[bytes]]:
    """Start a detached process (its own session: it outlives `make` and a terminal's Ctrl-C), logging to `log`."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as out:
        proc = subprocess.Popen(
            list(command),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=dict(env) if env is not None else None,
            cwd=cwd,
            start_new_session=True,
        )
    try:
        started = psutil.Process(proc.pid).create_time()
    except psutil.Error:
        started = time.time()  # it has already exited; the readiness wait reports its log
    return ProcessRecord(
        name=name, pid=proc.pid, started_at=started, command=list(command), log=str(log), url=url
    ), proc


class RecordBook:
    """The records of one stack component, one JSON file per process in `directory`."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def save(self, record: ProcessRecord) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        path = self.directory / f"{record.name}.json"
        temporary = path.with_suffix(".json.tmp")
        temporary.write_text(record.model_dump_json(indent=2), encoding="utf-8")
        os.replace(temporary, path)  # a reader never sees half a record

    def load(self) -> list[ProcessRecord]:
        if not self.directory.is_dir():
            return []
        records = []
        for path in sorted(self.directory.glob("*.json")):
            try:
                records.append(ProcessRecord.model_validate_json(path.read_text(encoding="utf-8")))
            except ValueError:
                path.unlink()  # a record we cannot read names no process we could prove is ours
        return records

    def running(self) -> list[ProcessRecord]:
        return [record for record in self.load() if is_running(record)]

    def forget(self, record: ProcessRecord) -> None:
        (self.directory / f"{record.name}.json").unlink(missing_ok=True)


def stop(records: Sequence[ProcessRecord], timeout: float = 20.0) -> list[ProcessRecord]:
    """SIGTERM every recorded process that is still ours, all at once (serve takes a second or two to drain), then
    SIGKILL the session of any still there past `timeout`. The records that were running and are now gone."""
    live = [(record, proc) for record in records if (proc := _process(record)) is not None]
    for _, proc in live:
        _signal_session(proc, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while any(_process(record) is not None for record, _ in live) and time.monotonic() < deadline:
        time.sleep(0.05)
    for record, proc in live:
        if _process(record) is not None:
            _signal_session(proc, signal.SIGKILL)
    kill_deadline = time.monotonic() + 10
    while any(_process(record) is not None for record, _ in live) and time.monotonic() < kill_deadline:
        time.sleep(0.05)
    return [record for record, _ in live]


def _signal_session(proc: psutil.Process, sig: signal.Signals) -> None:
    """The leader only for SIGTERM (serve and nginx stop their own children gracefully); the whole process
    group for SIGKILL, so nothing of a stuck tree is left behind."""
    try:
        if sig == signal.SIGKILL and os.getpgid(proc.pid) == proc.pid:
            os.killpg(proc.pid, sig)
        else:
            proc.send_signal(sig)
    except (ProcessLookupError, psutil.Error):
        pass


class StartError(RuntimeError):
    """A component could not start; the message says why and, when there is one, ends with its log's tail."""


def log_tail(path: str, lines: int = 20) -> str:
    try:
        text = Path(path).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return "(no log)"
    return "\n".join(text.splitlines()[-lines:])


def wait_ready(record: ProcessRecord, url: str, timeout: float = 60.0) -> None:
    """Poll `url` until it answers 200; StartError with the log's tail when the process exits or the deadline
    passes. The deadline is generous: on a loaded machine a cold start can take many seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not is_running(record):
            raise StartError(f"{record.name} exited during start-up; the end of {record.log}:\n{log_tail(record.log)}")
        try:
            with urlopen(url, timeout=2) as response:  # noqa: S310 - a loopback URL the stack built itself
                if response.status == 200:
                    return
        except (URLError, OSError):
            pass
        time.sleep(0.1)
    raise StartError(
        f"{record.name} did not answer {url} within {timeout:g} s; the end of {record.log}:\n{log_tail(record.log)}"
    )


def stop_all(book: RecordBook) -> list[ProcessRecord]:
    """Stop every process in `book`; the records that were still running, now stopped. Every record is
    forgotten, running or not."""
    records = book.load()
    stopped = stop(records)
    for record in records:
        book.forget(record)
    return stopped
