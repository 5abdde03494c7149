"""`make observability`: Debian's prometheus, prometheus-pushgateway and prometheus-alertmanager on loopback,
with the repository's configuration (observability/), their data under var/observability/.

The repository's files stay valid on their own (`promtool check config`, `amtool check-config`); what runs is a
copy written to var/observability/ with this machine's facts put in: the ports, absolute rule paths, the replicas
discovered from the file `run-replicas` writes, and dummy files for the receivers' secrets (`*_file` settings),
since a laptop has no PagerDuty key. Notifications to those receivers fail; the alerts still show in Alertmanager."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from load_harness.localstack.layout import (
    INSTALL_HINT,
    LOOPBACK,
    MONITORING_BINARIES,
    StackLayout,
    find_binary,
    port_in_use,
)
from load_harness.localstack.records import ProcessRecord, RecordBook, StartError, spawn, stop_all, wait_ready

READY_TIMEOUT_S = 60.0
DUMMY_URL = "http://127.0.0.1:9/local-stack-has-no-receiver"  # port 9 (discard): refused at once
DUMMY_SECRET = "local-stack-dummy-secret"  # noqa: S105 - a placeholder, deliberately not a secret
# TLS material must be real to parse; a local config that names some is used as written.
_REAL_FILES = ("ca_file", "cert_file", "key_file")
_FALLBACK_ALERTMANAGER = {"route": {"receiver": "local-null"}, "receivers": [{"name": "local-null"}]}


class MissingBinary(StartError):
    """A Debian package is not installed; the message names it and the apt-get line."""


@dataclass(frozen=True)
class Component:
    name: str  # the binary, and the Debian package that installs it
    port: int
    ready_path: str = "/-/ready"


def components(layout: StackLayout) -> list[Component]:
    ports = layout.ports
    return [
        Component("prometheus-pushgateway", ports.pushgateway),
        Component("prometheus-alertmanager", ports.alertmanager),
        Component("prometheus", ports.prometheus),
    ]


def check_binaries() -> dict[str, str]:
    found = {name: find_binary(name) for name in MONITORING_BINARIES}
    missing = [name for name, path in found.items() if path is None]
    if missing:
        raise MissingBinary(
            f"not installed: {', '.join(missing)} (no such command on PATH). The local stack runs Debian's "
            f"packages: {INSTALL_HINT}"
        )
    return {name: path for name, path in found.items() if path is not None}


def _absolute(path: str, base: Path) -> str:
    return path if Path(path).is_absolute() else str(base / path)


def prometheus_config(layout: StackLayout, scrape_interval: str | None = None) -> dict[str, Any]:
    """observability/prometheus/prometheus.yml with the local stack's ports, rule paths and replica discovery."""
    source = layout.config_dir / "prometheus" / "prometheus.yml"
    config: dict[str, Any] = yaml.safe_load(source.read_text(encoding="utf-8"))
    if scrape_interval:
        # A timeout longer than the interval is refused; the whole interval is the most a scrape may take.
        config.setdefault("global", {}).update(
            scrape_interval=scrape_interval, evaluation_interval=scrape_interval, scrape_timeout=scrape_interval
        )
    config["rule_files"] = [_absolute(p, source.parent) for p in config.get("rule_files") or []]
    ports = layout.ports
    config["alerting"] = {"alertmanagers": [{"static_configs": [{"targets": [f"{LOOPBACK}:{ports.alertmanager}"]}]}]}
    fixed = {"prometheus": ports.prometheus, "pushgateway": ports.pushgateway, "alertmanager": ports.alertmanager}
    for job in config.get("scrape_configs") or []:
        name = job.get("job_name")
        if name == "load-harness":
            job.pop("static_configs", None)
            job["file_sd_configs"] = [{"files": [str(layout.targets_file)], "refresh_interval": "5s"}]
        elif name in fixed:
            job["static_configs"] = [{"targets": [f"{LOOPBACK}:{fixed[name]}"]}]
    return config


def _dummy_secrets(node: Any, directory: Path, counter: list[int]) -> Any:
    """Every `*_file` secret setting in the tree points at a dummy file under `directory`."""
    if isinstance(node, list):
        return [_dummy_secrets(item, directory, counter) for item in node]
    if not isinstance(node, dict):
        return node
    result = {}
    for key, value in node.items():
        if isinstance(key, str) and key.endswith("_file") and key not in _REAL_FILES and isinstance(value, str):
            counter[0] += 1
            dummy = directory / f"{counter[0]:02d}-{key}"
            dummy.write_text(DUMMY_URL if "url" in key else DUMMY_SECRET, encoding="utf-8")
            dummy.chmod(0o600)
            result[key] = str(dummy)
        else:
            result[key] = _dummy_secrets(value, directory, counter)
    return result


def alertmanager_config(layout: StackLayout, say: Callable[[str], None]) -> dict[str, Any]:
    source = layout.config_dir / "alertmanager" / "alertmanager.yml"
    if not source.exists():
        say(f"{source} does not exist yet: Alertmanager runs with one receiver that notifies no one")
        return dict(_FALLBACK_ALERTMANAGER)
    config: dict[str, Any] = yaml.safe_load(source.read_text(encoding="utf-8"))
    secrets_dir = layout.observability_dir / "secrets"
    secrets_dir.mkdir(parents=True, exist_ok=True)
    secrets_dir.chmod(0o700)
    config = _dummy_secrets(config, secrets_dir, [0])
    config["templates"] = [_absolute(p, source.parent) for p in config.get("templates") or []]
    return config


def _write_yaml(path: Path, config: dict[str, Any]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    header = "# Generated by `make observability` (load_harness/localstack/monitoring.py); rewritten on every start.\n"
    path.write_text(header + yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    return path


def _command(
    layout: StackLayout, component: Component, binary: str, scrape_interval: str | None, say: Callable[[str], None]
) -> list[str]:
    data = layout.observability_dir / "data"
    listen = f"--web.listen-address={LOOPBACK}:{component.port}"
    if component.name == "prometheus":
        config = _write_yaml(layout.observability_dir / "prometheus.yml", prometheus_config(layout, scrape_interval))
        return [
            binary,
            f"--config.file={config}",
            f"--storage.tsdb.path={data / 'prometheus'}",
            listen,
            "--storage.tsdb.retention.time=2d",
        ]
    if component.name == "prometheus-alertmanager":
        config = _write_yaml(layout.observability_dir / "alertmanager.yml", alertmanager_config(layout, say))
        # An empty cluster address turns off the gossip listener, which would otherwise bind 0.0.0.0:9094.
        return [
            binary,
            f"--config.file={config}",
            f"--storage.path={data / 'alertmanager'}",
            listen,
            "--cluster.listen-address=",
        ]
    (data / "pushgateway").mkdir(parents=True, exist_ok=True)
    return [binary, listen, f"--persistence.file={data / 'pushgateway' / 'metrics.store'}"]


def start_monitoring(
    layout: StackLayout, say: Callable[[str], None], scrape_interval: str | None = None
) -> list[ProcessRecord]:
    binaries = check_binaries()
    book = RecordBook(layout.monitoring_pids)
    running = {record.name: record for record in book.running()}
    wanted = components(layout)
    if len(running) == len(wanted):
        say("already running:")
        _print_urls(wanted, running, say)
        return list(running.values())
    busy = [c for c in wanted if c.name not in running and port_in_use(c.port)]
    if busy:
        raise StartError("port(s) already in use on 127.0.0.1: " + ", ".join(f"{c.port} ({c.name})" for c in busy))
    if not layout.targets_file.exists():  # no replicas yet: an empty list, rather than a discovery error
        layout.targets_file.parent.mkdir(parents=True, exist_ok=True)
        layout.targets_file.write_text("[]\n", encoding="utf-8")
    try:
        for component in wanted:
            if component.name in running:
                continue
            command = _command(layout, component, binaries[component.name], scrape_interval, say)
            url = layout.url(component.port)
            record, _ = spawn(component.name, command, layout.observability_dir / f"{component.name}.log", url=url)
            book.save(record)
            wait_ready(record, url + component.ready_path, READY_TIMEOUT_S)
            running[component.name] = record
    except StartError:
        stop_all(book)
        raise
    _print_urls(wanted, running, say)
    return list(running.values())


def _print_urls(wanted: list[Component], running: dict[str, ProcessRecord], say: Callable[[str], None]) -> None:
    for component in wanted:
        record = running[component.name]
        say(f"{component.name:<24} {record.url}  (pid {record.pid}, log {record.log})")
