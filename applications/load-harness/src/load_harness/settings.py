"""The single typed Settings object: environment variables are read here, once.

The original's variable names keep working (PORT, ENVIRONMENT, APP_VERSION, API_KEY, SECRET_KEY, FAIL_RATE,
PROMETHEUS_URL, HOSTNAME/POD_NAME). Everything else reads `get_settings()`, never `os.environ`.
"""

from __future__ import annotations

import functools
import os
import secrets
import socket
import urllib.parse
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from load_harness import __version__

REPO_VAR = Path.cwd() / "var"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="", case_sensitive=False, extra="ignore", populate_by_name=True)

    host: str = Field("127.0.0.1", description="Address to listen on")
    port: int = Field(8080, ge=1, le=65535, description="Port to listen on")
    environment: str = Field("local", description="`local` for a laptop, anything else for a cluster")
    app_version: str = Field(__version__, description="Version reported by /version")
    pod_name: str = Field(
        default_factory=socket.gethostname,
        validation_alias=AliasChoices("POD_NAME", "HOSTNAME"),
        description="This pod's name (POD_NAME, else HOSTNAME); must be unique per server sharing a store",
    )
    namespace: str = Field("default", validation_alias=AliasChoices("POD_NAMESPACE", "NAMESPACE"))
    database_url: str = Field("", description="SQLAlchemy URL; empty means SQLite at var/load-harness.db")
    database_url_file: Path | None = Field(
        None, description="Read DATABASE_URL from this file (a Kubernetes Secret mounted as a file, not an env var)"
    )
    data_dir: Path = Field(REPO_VAR, description="Where the default SQLite database lives")

    api_key: str = Field("", description="Empty disables auth")
    api_key_file: Path | None = Field(None, description="Read API_KEY from this file (Kubernetes secrets)")
    flagger_token: str = Field(
        "",
        description="A second key that opens only POST /flagger/load-test (metadata.token); Flagger cannot send "
        "headers, so the token sits in the Canary, and the API key must not",
    )
    flagger_token_file: Path | None = Field(None, description="Read FLAGGER_TOKEN from this file")
    secret_key: str = Field("", description="Flask session key; random per start when empty")
    trusted_proxy_hops: int = Field(0, ge=0, le=5, description="Honour X-Forwarded-* from this many proxies")
    allowed_hosts: str = Field(
        "",
        description="Comma-separated Host patterns answered besides loopback, POD_NAME and SERVICE_URL's host "
        "(security/origin.py); `*` answers any",
    )
    expose_worker_pid: bool = Field(False, description="Send X-Worker-PID: which gunicorn worker answered")

    fail_rate: float = Field(0.0, ge=0.0, le=1.0, description="Chaos: share of requests answered with a 500")
    fail_latency_ms: int = Field(0, ge=0, le=60_000, description="Chaos: latency added to each request")

    cpu_overcommit: float = Field(1.0, gt=0, le=8, description="Running CPU jobs may total available cores × this")
    max_concurrent_jobs: int = Field(8, ge=1, le=256, description="Running jobs per pod, all kinds")
    max_concurrent_runs: int = Field(2, ge=1, le=64, description="Pending or running driver runs per pod (local)")
    max_shard_processes: int = Field(
        0, ge=0, le=256, description="Driver shard processes per pod, all local runs; 0: 2 × available cores, ≥ 2"
    )
    memory_safety_mb: int = Field(128, ge=0, description="Memory kept free below the container limit")

    workers: int = Field(1, ge=1, le=64, validation_alias=AliasChoices("WEB_WORKERS", "WORKERS"))
    threads: int = Field(16, ge=1, le=256, validation_alias=AliasChoices("WEB_THREADS", "THREADS"))
    drain_seconds: float = Field(0.0, ge=0, le=5, description="On SIGTERM, report not-ready this long first")
    web_worker: Literal["buffered", "gthread"] = Field(
        "buffered", description="buffered: requests are read whole before a thread runs them (ADR 0006); gthread"
    )
    header_timeout_seconds: float = Field(
        10.0, gt=0, le=300, description="A connection must send a request's headers within this, or is closed"
    )
    request_read_timeout_seconds: float = Field(
        30.0, gt=0, le=600, description="A connection must send a whole request, body included, within this"
    )
    supervisor_poll_seconds: float = Field(0.25, gt=0, le=10)
    log_format: Literal["auto", "json", "text"] = Field("auto", description="auto: text when local, else JSON")
    log_level: str = "INFO"

    prometheus_url: str = Field("", description="Prometheus base URL for the observer")
    prometheus_timeout_seconds: float = Field(
        5.0, gt=0, le=60, description="Each Prometheus query must answer within this"
    )
    observe_namespace: str = Field("", description="Namespace of the pods the observer reads; empty: POD_NAMESPACE")
    observe_app_label: str = Field(
        'job="load-harness"',
        description="PromQL label matchers selecting this app's own series (observe/queries.py)",
    )
    observe_container: str = Field("load-harness", description="Container name in cAdvisor and kube-state-metrics")
    observe_rate_window_seconds: int = Field(
        120, ge=2, le=3600, description="Window of the observer's rate() queries; at least two scrape intervals"
    )
    pushgateway_url: str = Field(
        "", description="Pushgateway base URL: each finished driver run pushes its summary there; empty: no push"
    )
    price_per_vcpu_hour: float | None = Field(
        None,
        ge=0,
        le=100,
        description="Autoscaling report: USD per vCPU-hour; unset: t3.large spot (autoscaling/cost.py)",
    )
    price_per_gb_hour: float | None = Field(
        None,
        ge=0,
        le=100,
        description="Autoscaling report: USD per GiB-hour; unset: t3.large spot (autoscaling/cost.py)",
    )
    pod_memory_request_mb: float | None = Field(
        None, ge=0, le=1_048_576, description="Autoscaling report: each pod's memory request (MiB); unset: not charged"
    )
    service_url: str = Field("", description="In-cluster Service URL the driver targets by default")
    driver_allowed_hosts: str = Field(
        "",
        description="Comma-separated host[:port] patterns API-started runs may target, besides this service; a "
        "wildcard must name its port (runs/guard.py)",
    )
    kubernetes_service_host: str = Field("", description="The Kubernetes API's address (set by the kubelet)")
    observe_kubernetes: bool = Field(
        False, description="Read the HPA, its events, the pods and the Deployment's rollout from the Kubernetes API"
    )
    observe_hpa_name: str = Field("load-harness", description="The HorizontalPodAutoscaler the observer reads")
    observe_deployment: str = Field("load-harness", description="The Deployment whose pods and rollout it reads")
    observe_kubeconfig: Path | None = Field(
        None, description="A kubeconfig for use outside a cluster; unset: the pod's service account (in-cluster)"
    )
    observe_kubernetes_timeout_seconds: float = Field(
        5.0, gt=0, le=60, description="Each Kubernetes API call must answer within this"
    )

    @field_validator("driver_allowed_hosts")
    @classmethod
    def _allowed_hosts_parse(cls, value: str) -> str:
        # Refusing to start beats a pattern that silently admits too much (a wildcard on every port).
        from load_harness.hosts import parse_patterns  # lazily: this base module loads nothing else at import

        parse_patterns(value)
        return value

    @field_validator("pushgateway_url")
    @classmethod
    def _pushgateway_url_is_base_url(cls, value: str) -> str:
        return check_pushgateway_url(value) if value else value

    @field_validator("pod_name")
    @classmethod
    def _pod_name_not_blank(cls, value: str) -> str:
        return value.strip() or socket.gethostname()

    @field_validator("allowed_hosts")
    @classmethod
    def _allowed_hosts_are_hosts(cls, value: str) -> str:
        # A URL here ("https://lh.example") would never match a Host header; say so at start-up.
        bad = [p.strip() for p in value.split(",") if "/" in p or " " in p.strip()]
        if bad:
            raise ValueError(f"ALLOWED_HOSTS takes host or host:port patterns, not URLs: {bad}")
        return value

    @model_validator(mode="after")
    def _resolve_secrets(self) -> Settings:
        if self.api_key_file is not None and not self.api_key:
            self.api_key = self.api_key_file.read_text(encoding="utf-8").strip()
        if self.flagger_token_file is not None and not self.flagger_token:
            self.flagger_token = self.flagger_token_file.read_text(encoding="utf-8").strip()
        # The URL carries the database password: a file keeps it out of the environment, which `ps e`, crash dumps
        # and child processes can read.
        if self.database_url_file is not None and not self.database_url:
            self.database_url = self.database_url_file.read_text(encoding="utf-8").strip()
        if not self.secret_key:
            # A random key per start is safe: sessions only need to survive one server's lifetime locally.
            self.secret_key = secrets.token_hex(32)
        return self

    @property
    def local_mode(self) -> bool:
        return self.environment.lower() == "local"

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.data_dir / 'load-harness.db'}"

    @property
    def json_logs(self) -> bool:
        return self.log_format == "json" or (self.log_format == "auto" and not self.local_mode)


def check_pushgateway_url(value: str) -> str:
    """PUSHGATEWAY_URL's and `drive --pushgateway`'s one rule: an http(s) base URL with a host and no userinfo,
    query or fragment (a password in it would be printed in every push warning). Returned without a trailing /."""
    parts = urllib.parse.urlsplit(value.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        # The value itself is not echoed: it may hold a password.
        raise ValueError(f"must be an http:// or https:// URL with a host (its scheme: {parts.scheme[:20]!r})")
    if parts.username is not None or parts.password is not None or parts.query or parts.fragment:
        raise ValueError("must not carry userinfo, a query or a fragment")
    return urllib.parse.urlunsplit((parts.scheme, parts.netloc, parts.path.rstrip("/"), "", ""))


@functools.lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()


# The variable each `serve` option stands for. Every process reads get_settings(), not the command line.
SERVE_OPTION_ENV = {"host": "HOST", "port": "PORT", "workers": "WEB_WORKERS", "threads": "WEB_THREADS"}


def apply_serve_options(**options: object) -> Settings:
    """Make command-line values the settings of this process and of every process it starts: written to the
    environment (an exec'd gunicorn reads it) and read again (forked workers inherit the fresh cache)."""
    for name, value in options.items():
        if value is not None:
            os.environ[SERVE_OPTION_ENV[name]] = str(value)
    get_settings.cache_clear()
    return get_settings()
