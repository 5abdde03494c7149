"""Everything measured during a run, in fixed memory: HDR histograms, counters and a bounded per-second series.

Nothing is kept per request. Latency is recorded for every HTTP response (any status) and for timeouts (at the
time waited, a lower bound of the truth, so that a timing-out target cannot improve its percentiles); connect and
protocol failures carry no meaningful latency and are only counted.
"""

from __future__ import annotations

from typing import Any

from load_harness.driver import histo
from load_harness.driver.series import Series
from load_harness.driver.state import Counters, LatencyData, Measurements, PodCounts

ERROR_CLASSES = ("connect", "timeout", "4xx", "5xx", "other")
UNKNOWN_POD = "(unknown)"
OTHER_POD = "(other)"
MAX_PODS = 256
MAX_ERROR_DETAILS = 32


class Recorder:
    """Hot-path recording for one process. `response`/`failure` are called once per completed request."""

    def __init__(self, open_loop: bool, max_pods: int = MAX_PODS, max_points: int = 3600) -> None:
        self.open_loop = open_loop
        self.max_pods = max_pods
        # Open loop: `response` is timed from the scheduled send (coordinated-omission corrected) and `service`
        # from the actual send. Closed loop has no schedule: both names are the same service-time histogram.
        self.response = histo.new_histogram()
        self.service = histo.new_histogram() if open_loop else self.response
        self.second = histo.new_histogram()
        self.max_response_us = 0
        self.max_service_us = 0
        self.pods: dict[str, list[Any]] = {}  # name -> [count, errors, service histogram]
        self.status_codes: dict[int, int] = {}
        self.error_classes = dict.fromkeys(ERROR_CLASSES, 0)
        self.error_details: dict[str, int] = {}
        self.scheduled = 0
        self.sent = 0
        self.completed = 0
        self.responses = 0
        self.errors = 0
        self.sent_late = 0
        self.dropped_late = 0
        self.dropped_max_in_flight = 0
        self.series = Series(max_points)
        self._second_sent = 0
        self._second_completed = 0
        self._second_errors = 0

    # -- hot path ---------------------------------------------------------------------------------------------

    def on_sent(self, late: bool) -> None:
        self.sent += 1
        self._second_sent += 1
        if late:
            self.sent_late += 1

    def _latency(self, scheduled: float, sent: float, end: float) -> tuple[int, int]:
        """Record both latencies; returns the service time and its counts index (for the pod histogram)."""
        service = int((end - sent) * 1e6)
        service = 1 if service < 1 else histo.HIGHEST_US if service > histo.HIGHEST_US else service
        s_index = histo.index_of(service)
        if service > self.max_service_us:
            self.max_service_us = service
        if self.open_loop:
            # From the scheduled time, or from the actual send when the scheduler sent it (≤ 2 ms) early.
            response = int((end - scheduled) * 1e6)
            response = service if response < service else histo.HIGHEST_US if response > histo.HIGHEST_US else response
            r_index = histo.index_of(response)
            histo.add_at(self.service, s_index, service)
        else:
            response, r_index = service, s_index
        histo.add_at(self.response, r_index, response)
        histo.add_at(self.second, r_index, response)
        if response > self.max_response_us:
            self.max_response_us = response
        return service, s_index

    def response_received(self, scheduled: float, sent: float, end: float, status: int, pod: str | None) -> None:
        self.completed += 1
        self.responses += 1
        self._second_completed += 1
        service, s_index = self._latency(scheduled, sent, end)
        codes = self.status_codes
        codes[status] = codes.get(status, 0) + 1
        stats = self.pods.get(pod or UNKNOWN_POD)
        if stats is None:
            stats = self._new_pod(pod or UNKNOWN_POD)
        stats[0] += 1
        histo.add_at(stats[2], s_index, service)
        if status >= 400:
            stats[1] += 1
            self._error("5xx" if status >= 500 else "4xx", None)

    def failure(self, scheduled: float, sent: float, end: float, error_class: str, detail: str | None) -> None:
        self.completed += 1
        self._second_completed += 1
        if error_class == "timeout":
            self._latency(scheduled, sent, end)
        self._error(error_class, detail)

    def _error(self, error_class: str, detail: str | None) -> None:
        self.errors += 1
        self._second_errors += 1
        self.error_classes[error_class] = self.error_classes.get(error_class, 0) + 1
        if detail is not None:
            details = self.error_details
            if detail in details or len(details) < MAX_ERROR_DETAILS:
                details[detail] = details.get(detail, 0) + 1
            else:
                details["(other)"] = details.get("(other)", 0) + 1

    def _new_pod(self, name: str) -> list[Any]:
        if len(self.pods) >= self.max_pods and name != OTHER_POD:
            # Past the cap, new names share one bucket: memory stays bounded with any number of pods.
            return self.pods.get(OTHER_POD) or self._new_pod(OTHER_POD)
        stats: list[Any] = [0, 0, histo.new_histogram()]
        self.pods[name] = stats
        return stats

    # -- once per second --------------------------------------------------------------------------------------

    def roll_second(self, epoch_second: int) -> None:
        """Close the current one-second bucket of the series and start a new one."""
        second = self.second
        pcts = histo.percentiles(second, [50.0, 99.0])
        self.series.add(
            epoch_second,
            self._second_sent,
            self._second_completed,
            self._second_errors,
            pcts[50.0],
            pcts[99.0],
        )
        self.second = histo.new_histogram()
        self._second_sent = self._second_completed = self._second_errors = 0

    def second_has_data(self) -> bool:
        return bool(self._second_sent or self._second_completed or self._second_errors)

    def live(self) -> tuple[int, int]:
        """Cumulative (p50, p99) of the response time, µs, for the live view."""
        pcts = histo.percentiles(self.response, [50.0, 99.0])
        return pcts[50.0], pcts[99.0]

    def measurements(self) -> Measurements:
        """The serialisable, mergeable part of the state (driver/state.py)."""
        return Measurements(
            counters=Counters(
                scheduled=self.scheduled,
                sent=self.sent,
                completed=self.completed,
                responses=self.responses,
                errors=self.errors,
                sent_late=self.sent_late,
                dropped_late=self.dropped_late,
                dropped_max_in_flight=self.dropped_max_in_flight,
            ),
            status_codes={str(code): n for code, n in sorted(self.status_codes.items())},
            error_classes=dict(self.error_classes),
            error_details=dict(self.error_details),
            latency=LatencyData(
                response=histo.encode(self.response),
                service=histo.encode(self.service),
                max_response_us=self.max_response_us,
                max_service_us=self.max_service_us,
            ),
            pods={
                name: PodCounts(count=s[0], errors=s[1], service=histo.encode(s[2])) for name, s in self.pods.items()
            },
            series=self.series.snapshot(),
        )
