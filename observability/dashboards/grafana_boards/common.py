"""What every LoadHarness dashboard shares: the Prometheus data source variable, the label selectors, panel
builders with our defaults, and the stable JSON form.

Selectors follow what a Kubernetes ServiceMonitor gives our pods' series (`namespace`, `pod`, `job` = the
Service's name) and what kube-state-metrics and cAdvisor export. Locally (`make observability`, the integration
test) the pods are static scrape targets with a `pod` label and no `namespace`: a regex matcher for "All"
(`.*`) also matches the absent label, so the same queries answer there.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from grafana_foundation_sdk.builders import common, dashboard, prometheus, stat, timeseries
from grafana_foundation_sdk.cog import builder as cogbuilder
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models import common as common_models
from grafana_foundation_sdk.models import dashboard as models
from grafana_foundation_sdk.models import prometheus as prometheus_models

DATASOURCE = models.DataSourceRef(type_val="prometheus", uid="${datasource}")
# "All" matches every value, and the absent label too (local targets carry no namespace).
ALL = ".*"

# Our own series: the pods of the selected app (the scrape job) in the selected namespace.
APP = 'job=~"$app", namespace=~"$namespace"'
# Requests users and the driver send: not probes, not Prometheus's scrapes (the same paths as the SLO recording
# rules in observability/rules/load-harness-slo.rules.yaml leave out).
TRAFFIC = f'{APP}, path!~"/health|/ready|/metrics"'
# cAdvisor series of real containers: "" is the pod's own cgroup and POD the pause container (both would count
# the pod twice).
CADVISOR = 'namespace=~"$namespace", container!="", container!="POD"'
# Restricts a per-pod vector from cAdvisor or kube-state-metrics to the app's pods: those exporting our build info.
APP_PODS = f"on (pod) group_left () max by (pod) (load_harness_build_info{{{APP}}})"
RATE = "$__rate_interval"

# A dashboard is a sequence of rows and panels, laid out in order.
Item = dashboard.Row | cogbuilder.Builder[models.Panel]


def datasource_variable() -> dashboard.DatasourceVariable:
    return dashboard.DatasourceVariable("datasource").label("Data source").type("prometheus")


def query_variable(
    name: str, label: str, query: str, *, include_all: bool, default: str = ""
) -> dashboard.QueryVariable:
    """A variable filled from label values; with `include_all`, "All" is the regex `.*`, which also matches series
    without the label."""
    variable = (
        dashboard.QueryVariable(name)
        .label(label)
        .datasource(DATASOURCE)
        .query(query)
        .refresh(models.VariableRefresh.ON_TIME_RANGE_CHANGED)
        .sort(models.VariableSort.ALPHABETICAL_ASC)
    )
    if include_all:
        variable = variable.include_all(True).all_value(ALL).multi(True)
        default = default or "$__all"
    if default:
        text = "All" if default == "$__all" else default
        variable = variable.current(models.VariableOption(selected=True, text=text, value=default))
    return variable


def namespace_variable() -> dashboard.QueryVariable:
    return query_variable(
        "namespace", "Namespace", "label_values(load_harness_build_info, namespace)", include_all=True
    )


def app_variable() -> dashboard.QueryVariable:
    """The scrape job of the LoadHarness pods: the Service's name under a ServiceMonitor, `load-harness` locally."""
    return query_variable(
        "app",
        "App (scrape job)",
        'label_values(load_harness_build_info{namespace=~"$namespace"}, job)',
        include_all=False,
        default="load-harness",
    )


def target(expr: str, legend: str = "", *, instant: bool = False) -> prometheus.Dataquery:
    query = prometheus.Dataquery().expr(expr).datasource(DATASOURCE)
    if legend:
        query = query.legend_format(legend)
    return query.instant() if instant else query.range()


def graph(title: str, description: str, unit: str, *targets: prometheus.Dataquery) -> timeseries.Panel:
    """A time series panel on the data source variable, legend as a table with the last and max values."""
    panel = (
        timeseries.Panel()
        .title(title)
        .description(description)
        .datasource(DATASOURCE)
        .unit(unit)
        .fill_opacity(10)
        .legend(
            common.VizLegendOptions()
            .display_mode(common_models.LegendDisplayMode.TABLE)
            .placement(common_models.LegendPlacement.BOTTOM)
            .show_legend(True)
            .calcs(["lastNotNull", "max"])
        )
        .tooltip(
            common.VizTooltipOptions()
            .mode(common_models.TooltipDisplayMode.MULTI)
            .sort(common_models.SortOrder.DESCENDING)
        )
    )
    for query in targets:
        panel = panel.with_target(query)
    return panel


def single(title: str, description: str, unit: str, *targets: prometheus.Dataquery) -> stat.Panel:
    """A stat panel showing each series' last value."""
    panel = (
        stat.Panel()
        .title(title)
        .description(description)
        .datasource(DATASOURCE)
        .unit(unit)
        .height(5)
        .span(6)
        .reduce_options(common.ReduceDataOptions().calcs(["lastNotNull"]).values(False))
    )
    for query in targets:
        panel = panel.with_target(query)
    return panel


def finish(board: dashboard.Dashboard) -> models.Dashboard:
    """Build, then number the panels and their queries: ids 1, 2, … in layout order, refIds A, B, … per panel,
    so the JSON is stable and every id is unique, as Grafana needs for links and for its own edits."""
    model = board.build()
    for number, panel in enumerate(model.panels or [], start=1):
        panel.id_val = number
        if isinstance(panel, models.Panel):
            for index, query in enumerate(panel.targets or []):
                if isinstance(query, prometheus_models.Dataquery):
                    query.ref_id = chr(ord("A") + index)
    return model


def new_dashboard(uid: str, title: str, description: str, tags: list[str]) -> dashboard.Dashboard:
    return (
        dashboard.Dashboard(title)
        .uid(uid)
        .description(description)
        .tags(["load-harness", *tags])
        .editable()
        .timezone("browser")
        .refresh("30s")
        .time("now-1h", "now")
        .tooltip(models.DashboardCursorSync.CROSSHAIR)
        .with_variable(datasource_variable())
    )


def add(board: dashboard.Dashboard, items: Sequence[Item]) -> dashboard.Dashboard:
    for item in items:
        board = board.with_row(item) if isinstance(item, dashboard.Row) else board.with_panel(item)
    return board


def to_json(model: models.Dashboard) -> str:
    """The committed form: sorted keys and a trailing newline, so a regenerated file differs only where the
    dashboard does."""
    return json.dumps(model, cls=JSONEncoder, indent=2, sort_keys=True) + "\n"
