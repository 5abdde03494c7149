"""DORA metrics: the four keys per environment, as `fleet dora push` publishes them to the Pushgateway
(tools/fleet/src/fleet/dora/push.py names every series read here). A metric with no value is not pushed, so a
panel shows "no data" rather than a perfect score."""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard, prometheus
from grafana_foundation_sdk.models import dashboard as models

from grafana_boards.common import Item, add, finish, graph, new_dashboard, query_variable, single, target

UID = "load-harness-dora"
ENV = 'environment=~"$environment"'


def _quantiles(metric: str) -> list[prometheus.Dataquery]:
    """The two quantiles push.py sets: 0.5 (median) and 0.9."""
    return [
        target(f'{metric}{{{ENV}, quantile="{q}"}}', f"{{{{environment}}}} {name}")
        for name, q in (("p50", "0.5"), ("p90", "0.9"))
    ]


def build() -> models.Dashboard:
    board = new_dashboard(
        UID,
        "DORA metrics",
        "Deployment frequency, lead time for changes, change failure rate and time to restore, per environment, "
        "from `fleet dora push` (Pushgateway job `dora`).",
        ["dora"],
    ).with_variable(
        query_variable("environment", "Environment", "label_values(dora_deployments, environment)", include_all=True)
    )
    items: list[Item] = [
        dashboard.Row("The four keys"),
        single(
            "Deployment frequency",
            "Successful deployments per day in the window (dora_deployment_frequency_per_day).",
            "short",
            target(f"dora_deployment_frequency_per_day{{{ENV}}}", "{{environment}}"),
        ),
        single(
            "Lead time for changes, median",
            "Commit to deploy, median over the window (dora_lead_time_seconds, quantile 0.5).",
            "s",
            target(f'dora_lead_time_seconds{{{ENV}, quantile="0.5"}}', "{{environment}}"),
        ),
        single(
            "Change failure rate",
            "Failed or rolled-back deployments / deployments in the window (dora_change_failure_ratio).",
            "percentunit",
            target(f"dora_change_failure_ratio{{{ENV}}}", "{{environment}}"),
        ),
        single(
            "Time to restore, median",
            "Failed deployment to recovery, median over the window (dora_time_to_restore_seconds, quantile 0.5).",
            "s",
            target(f'dora_time_to_restore_seconds{{{ENV}, quantile="0.5"}}', "{{environment}}"),
        ),
        dashboard.Row("Over time"),
        graph(
            "Deployments and failures in the window",
            "dora_deployments (the failure-rate denominator) and dora_failed_deployments, as each push reported them.",
            "short",
            target(f"dora_deployments{{{ENV}}}", "{{environment}} deployments"),
            target(f"dora_failed_deployments{{{ENV}}}", "{{environment}} failed"),
        ),
        graph(
            "Lead time for changes, p50 / p90",
            "dora_lead_time_seconds by quantile.",
            "s",
            *_quantiles("dora_lead_time_seconds"),
        ),
        graph(
            "Time to restore, p50 / p90",
            "dora_time_to_restore_seconds by quantile.",
            "s",
            *_quantiles("dora_time_to_restore_seconds"),
        ),
        graph(
            "Performance band",
            "The DORA 2023 band each metric falls in (dora_performance_band is 1 for that band, 0 for the others).",
            "short",
            target(f"dora_performance_band{{{ENV}}} == 1", "{{environment}} {{metric}}: {{band}}"),
        ),
        dashboard.Row("Freshness"),
        single(
            "Window",
            "Length of the window the metrics cover (dora_window_seconds, `fleet dora push --window`).",
            "s",
            target("dora_window_seconds"),
        ),
        single(
            "Age of the report",
            "Time since the end of the reported window (dora_window_end_timestamp_seconds, the push's --now). A "
            "scheduled push keeps this near its period; the DoraReportWindowOutdated alert watches it.",
            "s",
            target("time() - max(dora_window_end_timestamp_seconds)"),
        ),
    ]
    return finish(add(board, items))
