"""DORA performance bands (elite, high, medium, low) for each of the four keys.

Source: DORA, "Accelerate State of DevOps Report 2023", table "Software delivery performance levels"
(deployment frequency; change lead time; change failure rate; failed deployment recovery time):

- elite:  on demand (multiple deploys per day); less than one day; 5%; less than one hour
- high:   between once per day and once per week; between one day and one week; 10%; less than one day
- medium: between once per week and once per month; between one week and one month; 15%; one day to one week
- low:    between once per week and once per month; between one week and one month; 64%; one to six months

The report describes clusters, not cut-offs: its low row repeats medium's throughput ranges, and recovery has
a gap between a week and a month. To classify a measurement the bounds are made contiguous: each band ends
where the next begins, the failure-rate percentages are upper limits, and everything past medium is low.
"""

from __future__ import annotations

from dataclasses import dataclass

BANDS = ("elite", "high", "medium", "low")
DAY = 86_400.0


@dataclass(frozen=True)
class Scale:
    """Bounds for elite, high and medium, in the metric's unit; anything beyond medium's is low.

    `higher_is_better` flips the comparison (deployment frequency); `inclusive` says whether a value equal
    to the bound still earns the band ("at most 5%" yes, "less than one day" no).
    """

    metric: str
    unit: str
    bounds: tuple[float, float, float]
    higher_is_better: bool
    inclusive: bool

    def band(self, value: float | None) -> str | None:
        if value is None:
            return None
        for name, bound in zip(BANDS, self.bounds, strict=False):
            if self.higher_is_better and (value > bound or (self.inclusive and value == bound)):
                return name
            if not self.higher_is_better and (value < bound or (self.inclusive and value == bound)):
                return name
        return "low"


SCALES: dict[str, Scale] = {
    # elite: at least daily ("on demand"); high: at least weekly; medium: at least monthly (30 days).
    "deployment_frequency": Scale("deployment_frequency", "deploys/day", (1.0, 1 / 7, 1 / 30), True, True),
    # elite: under a day; high: under a week; medium: under a month (30 days). Median lead time.
    "lead_time": Scale("lead_time", "seconds", (DAY, 7 * DAY, 30 * DAY), False, False),
    # elite: at most 5%; high: at most 10%; medium: at most 15%.
    "change_failure_rate": Scale("change_failure_rate", "ratio", (0.05, 0.10, 0.15), False, True),
    # elite: under an hour; high: under a day; medium: under a week. Median recovery time.
    "time_to_restore": Scale("time_to_restore", "seconds", (3_600.0, DAY, 7 * DAY), False, False),
}


def band(metric: str, value: float | None) -> str | None:
    """The band of `value` for `metric`, or None when there is nothing to judge (no deployments, no failures)."""
    return SCALES[metric].band(value)
