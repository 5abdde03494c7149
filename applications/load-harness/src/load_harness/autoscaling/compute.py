"""The autoscaling report, computed from a run (its stored series and stages) and a cluster timeline. Pure: no
store, no network, no clock, so a recorded timeline gives the same report every time.

Definitions (the constants below are the only place their numbers live):

- **Above target**: at one step of the timeline, the pod-average CPU (each pod's cores as a percent of its own
  request, averaged over the pods that have a sample at that step) is above the HPA's `target_cpu_percent` ×
  (1 + HPA_TOLERANCE). The HPA itself does nothing inside that tolerance (kube-controller-manager's
  --horizontal-pod-autoscaler-tolerance, 0.1 by default).
- **Scale decision**: each HPA event SuccessfulRescale whose message says "New size: N" with N above the current
  size; without events, each rise of `replicas_desired`. Only scale-ups are reactions to load.
- **First interval above target** of a decision: the first step above target after the previous decision (or the
  window's start) and not after this one.
- **New pod ready**: the `ready_at` of the last of the pods that the decision added (the first N − previous pods
  created from one step before the decision on); without pod lives, the first `replicas_current` sample at or
  after the decision that reaches N.
- **Steady state of a stage**: replicas (current and desired) stop changing and the rate keeps up. The search
  starts at the stage's last replica change inside the stage (its start when none) and takes the first step
  from which STEADY_STEPS steps in a row, all inside the stage, each have an achieved rate (answers without error
  per second, averaged over the step) within STEADY_RATE_TOLERANCE_PCT percent of the offered rate (sent per
  second). None when the stage ends first. Steps count from the stage's start.
"""

from __future__ import annotations

import itertools
import re
from collections import defaultdict
from collections.abc import Sequence

from load_harness.autoscaling.cost import Window, compute_cost
from load_harness.autoscaling.model import (
    AutoscalingReport,
    ClusterSeries,
    PodCpuPercent,
    Prices,
    Reaction,
    Rules,
    RunSeries,
    StageSteadiness,
)
from load_harness.observe.timeline import ClusterTimeline, Point, TimelineUnavailable
from load_harness.runs.view import RunDetailView

HPA_TOLERANCE = 0.1
STEADY_RATE_TOLERANCE_PCT = 5.0
STEADY_STEPS = 3
DEFAULT_STEP_SECONDS = 10.0  # the grid of the steady-state search when there is no timeline to take it from
RESCALE = "SuccessfulRescale"
NEW_SIZE = re.compile(r"New size: (\d+)")


def run_window(run: RunDetailView) -> Window | None:
    """The run's send window, from its figures; None before its first shard reported."""
    if run.summary is None:
        return None
    return Window(run.summary.started_at, run.summary.started_at + run.summary.duration_s)


def run_series(run: RunDetailView) -> RunSeries:
    if run.summary is None:
        return RunSeries()
    series = run.summary.series
    interval = float(series.interval_s or 1)
    offered, achieved, p50, p99 = [], [], [], []
    for t, sent, completed, errors, p50_us, p99_us in (point[:6] for point in series.points):
        offered.append(Point(t=t, value=sent / interval))
        achieved.append(Point(t=t, value=(completed - errors) / interval))
        p50.append(Point(t=t, value=p50_us / 1000))
        p99.append(Point(t=t, value=p99_us / 1000))
    return RunSeries(offered_rps=offered, achieved_rps=achieved, p50_ms=p50, p99_ms=p99)


def cluster_series(timeline: ClusterTimeline) -> ClusterSeries:
    pods = []
    by_step: dict[float, list[float]] = defaultdict(list)
    for pod in timeline.pod_cpu:
        if pod.request_cores:
            points = [Point(t=p.t, value=100 * p.value / pod.request_cores) for p in pod.points]
            for point in points:
                by_step[point.t].append(point.value)
            pods.append(PodCpuPercent(pod=pod.pod, unit="% of request", points=points))
        else:
            pods.append(PodCpuPercent(pod=pod.pod, unit="cores", points=list(pod.points)))
    average = [Point(t=t, value=sum(values) / len(values)) for t, values in sorted(by_step.items())]
    return ClusterSeries(
        replicas_current=list(timeline.replicas_current),
        replicas_desired=list(timeline.replicas_desired),
        pod_cpu=pods,
        average_cpu_percent=average,
    )


def value_before(points: Sequence[Point], t: float) -> float | None:
    """The last sample strictly before `t`."""
    found = None
    for point in points:
        if point.t >= t:
            break
        found = point.value
    return found


def decisions(timeline: ClusterTimeline) -> list[tuple[float, int, str]]:
    """(time, new size, source) of each scale-up, in time order."""
    found: list[tuple[float, int, str]] = []
    for event in sorted(timeline.events, key=lambda e: e.t):
        size = NEW_SIZE.search(event.message)
        if event.reason == RESCALE and size:
            found.append((event.t, int(size.group(1)), f"event {RESCALE}"))
    if not found:
        desired = timeline.replicas_desired
        found = [
            (now.t, int(now.value), "replicas_desired")
            for before, now in itertools.pairwise(desired)
            if now.value > before.value
        ]
    return found


def size_before(timeline: ClusterTimeline, t: float) -> int:
    for series in (timeline.replicas_current, timeline.replicas_desired):
        value = value_before(series, t)
        if value is not None:
            return int(value)
    return timeline.min_replicas or 1


def reactions(timeline: ClusterTimeline, average_cpu: Sequence[Point]) -> list[Reaction]:
    found: list[Reaction] = []
    scale_ups = decisions(timeline)
    threshold = None if timeline.target_cpu_percent is None else timeline.target_cpu_percent * (1 + HPA_TOLERANCE)
    previous_at, size = timeline.start, None
    for index, (at, new_size, source) in enumerate(scale_ups):
        before = size if size is not None else size_before(timeline, at)
        if new_size <= before:
            size = new_size
            continue
        above = None
        if threshold is not None:
            above = next((p.t for p in average_cpu if previous_at < p.t <= at and p.value > threshold), None)
        next_at = scale_ups[index + 1][0] if index + 1 < len(scale_ups) else float("inf")
        ready_at, ready_source = pod_ready(timeline, at, next_at, new_size - before, new_size)
        found.append(
            Reaction(
                from_replicas=before,
                to_replicas=new_size,
                first_above_target_at=above,
                decision_at=at,
                decision_source=source,
                pod_ready_at=ready_at,
                ready_source=ready_source,
                above_to_decision_s=None if above is None else at - above,
                decision_to_ready_s=None if ready_at is None else ready_at - at,
                above_to_ready_s=None if above is None or ready_at is None else ready_at - above,
            )
        )
        previous_at, size = at, new_size
    return found


def pod_ready(
    timeline: ClusterTimeline, at: float, next_at: float, added: int, new_size: int
) -> tuple[float | None, str | None]:
    earliest = at - timeline.step_seconds  # an event's time and a pod's creation are a second or so apart
    new_pods = sorted(
        (p for p in timeline.pods if p.created_at is not None and earliest <= p.created_at < next_at),
        key=lambda p: p.created_at or 0.0,
    )[:added]
    if timeline.pods and len(new_pods) == added and all(p.ready_at is not None for p in new_pods):
        return max(p.ready_at for p in new_pods if p.ready_at is not None), "pod ready_at"
    reached = next((p.t for p in timeline.replicas_current if p.t >= at and p.value >= new_size), None)
    return (reached, "replicas_current") if reached is not None else (None, None)


def mean_in(points: Sequence[Point], low: float, high: float) -> float | None:
    values = [p.value for p in points if low <= p.t < high]
    return sum(values) / len(values) if values else None


def keeps_up(series: RunSeries, low: float, high: float) -> bool:
    offered, achieved = mean_in(series.offered_rps, low, high), mean_in(series.achieved_rps, low, high)
    if offered is None or achieved is None:
        return False
    return abs(achieved - offered) <= STEADY_RATE_TOLERANCE_PCT / 100 * offered


def replica_changes(timeline: ClusterTimeline | None, low: float, high: float) -> list[float]:
    if timeline is None:
        return []
    changes = []
    for series in (timeline.replicas_current, timeline.replicas_desired):
        changes += [now.t for before, now in itertools.pairwise(series) if now.value != before.value]
    return sorted(t for t in changes if low <= t < high)


def stages(
    run: RunDetailView, window: Window, series: RunSeries, timeline: ClusterTimeline | None, step: float
) -> list[StageSteadiness]:
    found = []
    begin = window.start
    for index, stage in enumerate(run.stages):
        end = window.end if stage.duration_s is None else min(window.end, begin + stage.duration_s)
        changes = replica_changes(timeline, begin, end)
        search_from = changes[-1] if changes else begin
        steady_at, t = None, begin
        while t + STEADY_STEPS * step <= end + 1e-9:
            if t >= search_from and all(
                keeps_up(series, t + k * step, t + (k + 1) * step) for k in range(STEADY_STEPS)
            ):
                steady_at = t
                break
            t += step
        note = ""
        if steady_at is None:
            note = "did not settle before the stage ended"
            if changes:
                note += f" (replicas last changed {changes[-1] - begin:g} s into it)"
        elif timeline is None or not (timeline.replicas_current or timeline.replicas_desired):
            note = "replicas unknown: settled by the rate alone"
        found.append(
            StageSteadiness(
                index=index + 1,
                starts_at=begin,
                ends_at=end,
                target=stage.target,
                steady_at=steady_at,
                steady_state_after_s=None if steady_at is None else steady_at - begin,
                note=note,
            )
        )
        begin = end
    return found


def missing_parts(timeline: ClusterTimeline | TimelineUnavailable) -> list[str]:
    if isinstance(timeline, TimelineUnavailable):
        return [f"the whole cluster timeline ({timeline.source}): {timeline.reason}"]
    found = list(timeline.notes)
    source = timeline.source
    checks = [
        (timeline.pod_cpu, f"per-pod CPU: {source} has none"),
        (timeline.replicas_current or timeline.replicas_desired, f"replica counts: {source} has none"),
        (timeline.target_cpu_percent is not None, f"the HPA's CPU target: {source} has none, so no step is above it"),
        (timeline.pods, f"pod lives: {source} has none, so readiness comes from replicas_current"),
        (timeline.events, f"HPA events: {source} has none, so decisions come from replicas_desired"),
    ]
    return found + [text for present, text in checks if not present]


def build_report(
    run_detail: RunDetailView, timeline: ClusterTimeline | TimelineUnavailable, prices: Prices
) -> AutoscalingReport:
    window = run_window(run_detail)
    series = run_series(run_detail)
    cluster = timeline if isinstance(timeline, ClusterTimeline) else None
    step = cluster.step_seconds if cluster is not None else DEFAULT_STEP_SECONDS
    missing = missing_parts(timeline)
    if window is None:
        window = Window(0.0, 0.0)
        missing.insert(0, "the run's own figures: no shard has reported yet")
    requests_ok = 0
    if run_detail.summary is not None:
        requests_ok = run_detail.summary.requests.completed - run_detail.summary.requests.errors
    drawn = cluster_series(cluster) if cluster is not None else ClusterSeries()
    return AutoscalingReport(
        run_id=run_detail.run_id,
        run_name=run_detail.options.name or "",
        status=str(run_detail.status),
        start=window.start,
        end=window.end,
        timeline_source=timeline.source,
        hpa_name=cluster.hpa_name if cluster else None,
        target_cpu_percent=cluster.target_cpu_percent if cluster else None,
        min_replicas=cluster.min_replicas if cluster else None,
        max_replicas=cluster.max_replicas if cluster else None,
        rules=Rules(
            hpa_tolerance=HPA_TOLERANCE,
            steady_rate_tolerance_pct=STEADY_RATE_TOLERANCE_PCT,
            steady_steps=STEADY_STEPS,
            step_seconds=step,
        ),
        run_series=series,
        cluster=drawn,
        reactions=reactions(cluster, drawn.average_cpu_percent) if cluster else [],
        stages=stages(run_detail, window, series, cluster, step) if run_detail.summary else [],
        cost=compute_cost(cluster, window, requests_ok, prices, "" if cluster else missing[0]),
        missing=missing,
    )
