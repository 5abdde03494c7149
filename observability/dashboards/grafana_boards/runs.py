"""Load-test runs: what the driver reports and what the target saw.

The driver exports nothing to Prometheus while a run goes on (its live figures are in the store, shown by the
LoadHarness dashboard). When a run finishes with a Pushgateway configured (PUSHGATEWAY_URL or `drive
--pushgateway`), driver/push_sink.py pushes its summary: the load_harness_driver_run_* gauges, grouped by `origin`
and `target` only, so each group holds the latest finished run from one origin against one target. The target's
side comes from our own metrics on the pods that answered: the work endpoint's rate, latency and status codes.
"""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard
from grafana_foundation_sdk.models import dashboard as models

from grafana_boards.common import (
    APP,
    RATE,
    Item,
    add,
    app_variable,
    finish,
    graph,
    namespace_variable,
    new_dashboard,
    query_variable,
    single,
    target,
)

UID = "load-harness-runs"
RUN = 'origin=~"$origin", target=~"$target"'
GROUP = "{{origin}} → {{target}}"
# The endpoint the driver targets by default (driver/spec.default_target).
WORK = f'{APP}, path="/load/cpu/work"'


def _summaries() -> list[Item]:
    return [
        dashboard.Row("Latest finished run per origin and target (Pushgateway)"),
        single(
            "Achieved rate",
            "Completed requests per second over the run's send window (load_harness_driver_run_achieved_rps).",
            "reqps",
            target(f"load_harness_driver_run_achieved_rps{{{RUN}}}", GROUP),
        ),
        single(
            "Requests",
            "Requests completed: answered, failed or timed out (load_harness_driver_run_requests).",
            "short",
            target(f"load_harness_driver_run_requests{{{RUN}}}", GROUP),
        ),
        single(
            "Error ratio",
            "Failed requests (connect errors, timeouts, 4xx, 5xx) / completed requests, from "
            "load_harness_driver_run_errors and load_harness_driver_run_requests.",
            "percentunit",
            target(
                f"load_harness_driver_run_errors{{{RUN}}} / load_harness_driver_run_requests{{{RUN}}}",
                GROUP,
            ),
        ),
        single(
            "Dropped arrivals",
            "Open loop: scheduled arrivals never sent, too late or over the in-flight cap "
            "(load_harness_driver_run_dropped_arrivals). Above 0, the driver, not the target, was the limit.",
            "short",
            target(f"load_harness_driver_run_dropped_arrivals{{{RUN}}}", GROUP),
        ),
        graph(
            "Response time p50 / p95 / p99",
            "Response time percentiles of the latest run, open loop counted from the scheduled send (coordinated "
            "omission corrected; load_harness_driver_run_response_seconds).",
            "s",
            target(f"load_harness_driver_run_response_seconds{{{RUN}}}", GROUP + " p{{quantile}}"),
        ),
        graph(
            "Run length and end",
            "Send window length (load_harness_driver_run_duration_seconds) and how long ago it closed "
            "(load_harness_driver_run_end_timestamp_seconds): which run each group holds.",
            "s",
            target(f"load_harness_driver_run_duration_seconds{{{RUN}}}", GROUP + " duration"),
            target(f"time() - load_harness_driver_run_end_timestamp_seconds{{{RUN}}}", GROUP + " ended ago"),
        ),
    ]


def _target_side() -> list[Item]:
    return [
        dashboard.Row("What the target saw (LoadHarness pods)"),
        graph(
            "Work endpoint rate by pod",
            "POST /load/cpu/work answered per second by each pod: the driver's default target.",
            "reqps",
            target(f"sum by (pod) (rate(flask_http_request_total{{{WORK}}}[{RATE}]))", "{{pod}}"),
        ),
        graph(
            "Work endpoint latency p50 / p99",
            "Server-side latency of /load/cpu/work (flask_http_request_duration_seconds); the gap to the "
            "driver's response time is queueing before the request reached a worker, and the network.",
            "s",
            *(
                target(
                    f"histogram_quantile({q}, sum by (le) "
                    f"(rate(flask_http_request_duration_seconds_bucket{{{WORK}}}[{RATE}])))",
                    name,
                )
                for name, q in (("p50", "0.5"), ("p99", "0.99"))
            ),
        ),
        graph(
            "Work endpoint responses by status",
            "Responses per second by status code: 503 is the work pool timing out, 422 a bad body.",
            "reqps",
            target(f"sum by (status) (rate(flask_http_request_total{{{WORK}}}[{RATE}]))", "{{status}}"),
        ),
    ]


def build() -> models.Dashboard:
    board = (
        new_dashboard(
            UID,
            "LoadHarness load-test runs",
            "Driver run summaries pushed to the Pushgateway, and the target's own view of the traffic.",
            ["runs", "driver"],
        )
        .with_variable(namespace_variable())
        .with_variable(app_variable())
        .with_variable(
            query_variable(
                "origin", "Origin", "label_values(load_harness_driver_run_requests, origin)", include_all=True
            )
        )
        .with_variable(
            query_variable(
                "target",
                "Target",
                'label_values(load_harness_driver_run_requests{origin=~"$origin"}, target)',
                include_all=True,
            )
        )
    )
    return finish(add(board, [*_summaries(), *_target_side()]))
