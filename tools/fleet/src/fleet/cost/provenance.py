"""Where a price comes from and when someone last checked it.

Every price section of data/pricing-*.yaml carries `source` (who says so) and `checked` (when it was last compared
with that source). `fleet cost estimate` prints both and warns when a price it used was checked more than
STALE_AFTER_DAYS before the date of the estimate. The 90 days live here and nowhere else.

`checked` is a real calendar date, YYYY-MM-DD, or YYYY-MM when only the month is known (the original platform's
figures are "December 2025", with no day). A month counts as its last day, so the age is never overstated and a
warning always means what it says.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date
from typing import Annotated

from pydantic import BaseModel, BeforeValidator, ConfigDict, StringConstraints

STALE_AFTER_DAYS = 90

_MONTH = re.compile(r"^(\d{4})-(\d{2})$")


def _month_end(text: str) -> date | None:
    """The last day of a YYYY-MM month, or None when `text` is not one."""
    match = _MONTH.match(text)
    if not match:
        return None
    year, month = int(match[1]), int(match[2])
    if not 1 <= month <= 12:
        return None
    return date(year, month, calendar.monthrange(year, month)[1])


def _check_date(value: object) -> str:
    """Accept a date (YAML reads 2026-11-26 as one), 'YYYY-MM-DD' or 'YYYY-MM'; refuse anything else."""
    if isinstance(value, date):
        return value.isoformat()
    text = value.strip() if isinstance(value, str) else ""
    if _month_end(text) is not None:
        return text
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
        try:
            return date.fromisoformat(text).isoformat()
        except ValueError:
            pass  # 2026-02-30: the right shape, but no such day
    raise ValueError(f"{value!r} is not a real date: expected YYYY-MM-DD, or YYYY-MM when only the month is known")


CheckedDate = Annotated[str, BeforeValidator(_check_date)]
SourceText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]


class PriceSource(BaseModel):
    """The provenance of one price section. Price sections in pricing.py extend it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    source: SourceText
    checked: CheckedDate

    def checked_by(self) -> date:
        """The latest day the check can have happened (a YYYY-MM month counts as its last day)."""
        return _month_end(self.checked) or date.fromisoformat(self.checked)

    def age_days(self, on: date) -> int:
        return (on - self.checked_by()).days

    def is_stale(self, on: date) -> bool:
        return self.age_days(on) > STALE_AFTER_DAYS


@dataclass(frozen=True)
class StalePrice:
    """A price used by an estimate whose last check is older than STALE_AFTER_DAYS."""

    components: tuple[str, ...]
    price: PriceSource
    age_days: int
    on: date

    @property
    def message(self) -> str:
        return (
            f"{', '.join(self.components)}: price checked {self.price.checked}, {self.age_days} days before "
            f"{self.on.isoformat()} (more than {STALE_AFTER_DAYS}): re-check it. Source: {self.price.source}"
        )


def stale_prices(used: list[tuple[str, PriceSource]], on: date) -> list[StalePrice]:
    """One warning per stale source and date, naming every component that used it, in order of first use."""
    by_source: dict[PriceSource, list[str]] = {}
    for component, price in used:
        if price.is_stale(on):
            # Key on the provenance alone: the EKS and NAT sections checked together give one warning, not two.
            key = PriceSource(source=price.source, checked=price.checked)
            names = by_source.setdefault(key, [])
            if component not in names:
                names.append(component)
    return [StalePrice(tuple(names), price, price.age_days(on), on) for price, names in by_source.items()]
