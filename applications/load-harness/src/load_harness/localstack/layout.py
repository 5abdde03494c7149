"""Where the local stack keeps its files and which loopback ports it uses: one place for both, so that the
replicas, the monitoring processes and `down` agree (and a test can move all of it to a temporary directory)."""

from __future__ import annotations

import shutil
import socket
from dataclasses import dataclass
from pathlib import Path

LOOPBACK = "127.0.0.1"
# Debian's packages install these names; the package is named like its binary.
MONITORING_BINARIES = ("prometheus", "prometheus-pushgateway", "prometheus-alertmanager")
INSTALL_HINT = "sudo apt-get install prometheus prometheus-pushgateway prometheus-alertmanager"
# nginx lives in /usr/sbin, which an ordinary user's PATH often leaves out.
SBIN_DIRS = ("/usr/sbin", "/sbin", "/usr/local/sbin")
MAX_REPLICAS = 16


@dataclass(frozen=True)
class Ports:
    balancer: int = 8080
    first_replica: int = 8081
    prometheus: int = 9090
    pushgateway: int = 9091
    alertmanager: int = 9093

    def replica(self, index: int) -> int:
        """The port of replica `index` (1-based): 8081, 8082, … by default."""
        return self.first_replica + index - 1


@dataclass(frozen=True)
class StackLayout:
    """`var_dir` holds everything the stack writes; `config_dir` is the repository's observability/ directory."""

    var_dir: Path
    config_dir: Path
    ports: Ports = Ports()

    @property
    def replicas_dir(self) -> Path:
        return self.var_dir / "replicas"

    @property
    def nginx_dir(self) -> Path:
        return self.replicas_dir / "nginx"

    @property
    def observability_dir(self) -> Path:
        return self.var_dir / "observability"

    @property
    def replica_pids(self) -> Path:
        return self.replicas_dir / "pids"

    @property
    def monitoring_pids(self) -> Path:
        return self.observability_dir / "pids"

    @property
    def targets_file(self) -> Path:
        """What Prometheus scrapes for the load-harness job (file_sd): written by `run-replicas`."""
        return self.observability_dir / "targets" / "load-harness.json"

    def url(self, port: int) -> str:
        return f"http://{LOOPBACK}:{port}"

    @property
    def prometheus_url(self) -> str:
        return self.url(self.ports.prometheus)


def port_in_use(port: int) -> bool:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((LOOPBACK, port))
        except OSError:
            return True
    return False


def find_binary(name: str, search_sbin: bool = False) -> str | None:
    found = shutil.which(name)
    if found is None and search_sbin:
        found = shutil.which(name, path=":".join(SBIN_DIRS))
    return found
