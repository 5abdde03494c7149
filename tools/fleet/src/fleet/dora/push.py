"""Publish a DoraReport to a Prometheus Pushgateway as a handful of low-cardinality gauges.

Labels are only `environment`, `quantile`, `metric` and `band`: never a sha, id or URL, which would create a
new series per deployment. A metric with no value (no deployments, no failures) is left out rather than
pushed as 0, so a dashboard shows "no data" instead of a perfect score.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Gauge, push_to_gateway

from fleet.dora.bands import BANDS
from fleet.dora.metrics import DoraReport


class PushError(RuntimeError):
    """The Pushgateway could not be reached or refused the push."""


def build_registry(report: DoraReport) -> CollectorRegistry:
    registry = CollectorRegistry()

    def gauge(name: str, doc: str, labels: tuple[str, ...] = ("environment",)) -> Gauge:
        return Gauge(name, doc, labels, registry=registry)

    window = gauge("dora_window_seconds", "Length of the window the DORA metrics cover.", ())
    window.set((report.window.end - report.window.start).total_seconds())
    computed = gauge("dora_window_end_timestamp_seconds", "End of the window (the --now of the run).", ())
    computed.set(report.window.end.timestamp())
    deployments = gauge("dora_deployments", "Deployments in the window (failure-rate denominator).")
    failed = gauge("dora_failed_deployments", "Failed or rolled-back deployments in the window.")
    frequency = gauge("dora_deployment_frequency_per_day", "Successful deployments per day in the window.")
    lead = gauge("dora_lead_time_seconds", "Lead time for changes, commit to deploy.", ("environment", "quantile"))
    cfr = gauge("dora_change_failure_ratio", "Failed deployments / deployments in the window (0-1).")
    restore = gauge("dora_time_to_restore_seconds", "Failed deployment to recovery.", ("environment", "quantile"))
    level = gauge(
        "dora_performance_band",
        "1 for the DORA 2023 performance band the metric falls in, 0 for the others.",
        ("environment", "metric", "band"),
    )
    for env in report.environments:
        name = env.environment
        deployments.labels(name).set(env.deployments)
        failed.labels(name).set(env.failed)
        frequency.labels(name).set(env.deployment_frequency_per_day)
        for quantile, value in (("0.5", env.lead_time.median), ("0.9", env.lead_time.p90)):
            if value is not None:
                lead.labels(name, quantile).set(value)
        for quantile, value in (("0.5", env.time_to_restore.median), ("0.9", env.time_to_restore.p90)):
            if value is not None:
                restore.labels(name, quantile).set(value)
        if env.change_failure_rate is not None:
            cfr.labels(name).set(env.change_failure_rate)
        for metric, current in env.bands.items():
            if current is None:
                continue
            for candidate in BANDS:
                level.labels(name, metric, candidate).set(1 if candidate == current else 0)
    return registry


def push(report: DoraReport, gateway: str, job: str = "dora", timeout: float = 10.0) -> None:
    """Replace the job's group on the gateway (PUT), so environments that vanished do not linger."""
    try:
        push_to_gateway(gateway, job=job, registry=build_registry(report), timeout=timeout)
    except OSError as exc:  # URLError and HTTPError are OSErrors
        raise PushError(f"push to {gateway} (job {job!r}) failed: {exc}") from exc
