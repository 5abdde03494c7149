"""A finished run's summary, pushed to a Prometheus Pushgateway as a handful of gauges (PUSHGATEWAY_URL or
`drive --pushgateway URL`; docs/driver.md).

A Pushgateway keeps every group it was ever sent until someone deletes it, and Prometheus scrapes each of them
forever, so the grouping key decides how many series exist. It is `job` plus two labels with few values:

- `origin`: which way in started the run (cli, api, dashboard, flagger);
- `target`: the host[:port] the run drove (never the path, the query or userinfo: a path can carry ids, userinfo a
  password).

Never the run id, the URL path or a run's free-text name: each would add a group per run that never goes away.
Each group therefore holds the *latest* finished run from that origin against that target (a push replaces its
group), and `load_harness_driver_run_end_timestamp_seconds` says which run that was; the run itself, by id, is in
the store (GET /runs). The only other label is `quantile` on the latency gauge, with three fixed values.

A push is the last thing a run does, and it must never fail the run: any error (refused, timed out, a 4xx from
the gateway) is a warning on stderr and in the log, with the reason, and the run's exit code is unchanged.
"""

from __future__ import annotations

import logging
import sys
import urllib.parse
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from prometheus_client import CollectorRegistry, push_to_gateway
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from load_harness.driver.state import DriverState, RunMeta, Summary
from load_harness.driver.summary import summarize

log = logging.getLogger(__name__)

PUSH_JOB = "load_harness_driver"
# Bounds how long a black-holed gateway can hold the end of a run (the push runs after the send window closed).
PUSH_TIMEOUT_S = 5.0
GROUPING_LABELS = ("origin", "target")
QUANTILES = (("0.5", "p50"), ("0.95", "p95"), ("0.99", "p99"))


class PushError(RuntimeError):
    """The Pushgateway could not be reached, or refused the push."""


@dataclass(frozen=True)
class PushTarget:
    """Where a run's summary goes: the gateway's base URL (settings.check_pushgateway_url has checked it) and
    the origin label of the runs pushed through it."""

    gateway: str
    origin: str
    timeout_s: float = PUSH_TIMEOUT_S


def target_label(url: str) -> str:
    """host[:port] of the run's target, lower-case; no scheme, userinfo, path or query."""
    parts = urllib.parse.urlsplit(url)
    host = (parts.hostname or "").lower()
    if ":" in host:  # an IPv6 literal keeps its brackets, so the port stays readable
        host = f"[{host}]"
    return f"{host}:{parts.port}" if parts.port else host


def grouping_key(summary: Summary, origin: str) -> dict[str, str]:
    return {"origin": origin, "target": target_label(summary.url)}


class SummaryCollector(Collector):
    """The summary's gauges. Metric families, not `Gauge` objects: a shard the supervisor launched inherits
    PROMETHEUS_MULTIPROC_DIR, and a `Gauge` would write its value into the server's multiprocess files, so the
    server's own /metrics would start showing the driver's figures."""

    def __init__(self, summary: Summary) -> None:
        self.summary = summary

    def collect(self) -> Iterator[GaugeMetricFamily]:
        summary, counts = self.summary, self.summary.requests
        yield GaugeMetricFamily(
            "load_harness_driver_run_requests", "Requests completed (answered, failed or timed out).", counts.completed
        )
        yield GaugeMetricFamily(
            "load_harness_driver_run_errors", "Requests that failed: connect errors, timeouts, 4xx, 5xx.", counts.errors
        )
        yield GaugeMetricFamily(
            "load_harness_driver_run_dropped_arrivals",
            "Open loop: scheduled arrivals never sent (too late, or over the in-flight cap).",
            counts.dropped,
        )
        yield GaugeMetricFamily(
            "load_harness_driver_run_achieved_rps",
            "Completed requests per second over the send window.",
            summary.throughput.completed_rps,
        )
        yield GaugeMetricFamily(
            "load_harness_driver_run_duration_seconds", "Length of the send window.", summary.duration_s
        )
        yield GaugeMetricFamily(
            "load_harness_driver_run_end_timestamp_seconds",
            "When the send window closed (Unix time): which run this group holds.",
            summary.started_at + summary.duration_s,
        )
        latency = GaugeMetricFamily(
            "load_harness_driver_run_response_seconds",
            "Response time percentiles; open loop counts from the scheduled send (coordinated omission corrected).",
            labels=["quantile"],
        )
        for quantile, stat in QUANTILES:
            latency.add_metric([quantile], summary.latency_ms.response.value(stat) / 1000)
        yield latency


def build_registry(summary: Summary) -> CollectorRegistry:
    """The summary's gauges in a registry of their own (never the process's default one)."""
    registry = CollectorRegistry()
    registry.register(SummaryCollector(summary))
    return registry


def push_summary(summary: Summary, target: PushTarget) -> None:
    """Replace this origin's and target's group on the gateway (PUT) with the summary; raises PushError."""
    key = grouping_key(summary, target.origin)
    try:
        push_to_gateway(
            target.gateway, job=PUSH_JOB, registry=build_registry(summary), grouping_key=key, timeout=target.timeout_s
        )
    except OSError as exc:  # URLError, HTTPError and socket timeouts are all OSErrors
        group = ", ".join(f"{name}={value}" for name, value in key.items())
        raise PushError(f"push to {target.gateway} (job={PUSH_JOB}, {group}) failed: {exc}") from exc


def warn(message: str) -> None:
    """On stderr, like the runner's other sink warnings; also in the log when this process configured one (the
    `drive` command does not: without a handler, logging would print the same line a second time)."""
    print(f"warning: {message}", file=sys.stderr)
    if log.hasHandlers():
        log.warning(message)


class PushSink:
    """A RunSink that pushes the run's summary once, when it finishes. Only a process holding a whole run's
    state may use it (one in-process run, or the launcher that merged its shards): a shard's share pushed under
    the run's grouping key would replace the run's figures with a part of them."""

    def __init__(self, target: PushTarget, on_error: Callable[[str], None] = warn) -> None:
        self.target = target
        self.on_error = on_error

    def start(self, meta: RunMeta) -> None:
        return None

    def progress(self, state: DriverState) -> None:
        return None

    def should_stop(self) -> bool:
        return False

    def finish(self, state: DriverState) -> None:
        self.push(summarize(state))

    def push(self, summary: Summary) -> bool:
        """True when the gateway took it; a failure is reported to `on_error`, never raised."""
        try:
            push_summary(summary, self.target)
        except PushError as exc:
            self.on_error(str(exc))
            return False
        except Exception as exc:  # a summary the registry refuses must not fail the run either
            self.on_error(f"push to {self.target.gateway} failed: {exc!r}")
            return False
        return True
