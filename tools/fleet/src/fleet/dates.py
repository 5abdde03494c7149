"""`--date YYYY-MM-DD`, read the same way by every command that takes one."""

from __future__ import annotations

import calendar as gregorian
import re
from datetime import UTC, date, datetime

DATE_RE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")  # date.fromisoformat would also take 20261202 and 2026-W48-4


def parse_day(value: str | None, flag: str = "--date") -> date:
    """Today (UTC) when not given; else YYYY-MM-DD and a day that exists ('2026-02-30' is in the right form but is
    no date). Raises ValueError naming the flag, the value and what is wrong with it."""
    if value is None:
        return datetime.now(UTC).date()
    match = DATE_RE.match(value.strip())
    if not match:
        raise ValueError(f"{flag} {value!r}: expected YYYY-MM-DD, e.g. 2026-11-26")
    year, month, day = (int(part) for part in match.groups())
    if not 1 <= month <= 12:
        raise ValueError(f"{flag} {value!r}: not a calendar date (there is no month {month:02d})")
    length = gregorian.monthrange(year, month)[1]
    if not 1 <= day <= length:
        name = gregorian.month_name[month]
        raise ValueError(f"{flag} {value!r}: not a calendar date ({name} {year} has {length} days)")
    return date(year, month, day)
