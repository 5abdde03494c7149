"""The EKS version calendar and what it means for one version on one date.

Support phases: standard until 00:00 UTC on the end-of-standard date (from then AWS bills extended support),
extended until the end-of-extended date, then unsupported (AWS upgrades the control plane itself).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, field_validator, model_validator

from fleet.datafiles import load_model, packaged

Phase = Literal["standard", "extended", "unsupported", "unknown"]
VERSION_RE = re.compile(r"^\d+\.\d+$")


class VersionDates(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    released: date | None = None
    end_of_standard: date
    end_of_extended: date

    @model_validator(mode="after")
    def _ordered(self) -> VersionDates:
        if self.end_of_extended <= self.end_of_standard:
            raise ValueError("end_of_extended must be after end_of_standard")
        if self.released and self.released >= self.end_of_standard:
            raise ValueError("released must be before end_of_standard")
        return self


class Calendar(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    versions: dict[str, VersionDates]

    @field_validator("versions")
    @classmethod
    def _version_keys(cls, value: dict[str, VersionDates]) -> dict[str, VersionDates]:
        bad = [k for k in value if not VERSION_RE.match(k)]
        if bad:
            raise ValueError(f"version keys must look like 1.35 (quote them in YAML): {bad}")
        return value

    def ordered(self) -> list[str]:
        return sorted(self.versions, key=version_key)


def version_key(version: str) -> tuple[int, ...]:
    return tuple(int(p) for p in version.split("."))


def normalise(version: str) -> str:
    """'v1.32', '1.32.5' and '1.32' all mean the EKS minor version 1.32."""
    match = re.match(r"^v?(\d+)\.(\d+)", version.strip())
    return f"{match.group(1)}.{match.group(2)}" if match else version.strip()


def load_calendar(path: Path | None = None) -> Calendar:
    return load_model(path or packaged("eks-versions.yaml"), Calendar)


@dataclass(frozen=True)
class Status:
    version: str
    on: date
    phase: Phase
    next_deadline: date | None
    deadline_name: str
    days_left: int | None
    recommended: str
    upgrade_path: list[str]

    def in_warning_window(self, warn_days: int) -> bool:
        return self.days_left is not None and self.days_left <= warn_days


def recommended_target(calendar: Calendar, on: date) -> str:
    """The newest released version still in standard support on `on`, else the newest listed."""
    candidates = [v for v in calendar.ordered() if _in_standard_support(calendar.versions[v], on)]
    return (candidates or calendar.ordered())[-1]


def _in_standard_support(dates: VersionDates, on: date) -> bool:
    released = dates.released is None or dates.released <= on
    return released and on < dates.end_of_standard


def upgrade_path(calendar: Calendar, current: str, target: str) -> list[str]:
    """EKS upgrades one minor version at a time, so every listed version between current and target."""
    lo, hi = version_key(current), version_key(target)
    return [v for v in calendar.ordered() if lo < version_key(v) <= hi]


def status(calendar: Calendar, version: str, on: date) -> Status:
    version = normalise(version)
    target = recommended_target(calendar, on)
    dates = calendar.versions.get(version)
    if dates is None:
        return Status(version, on, "unknown", None, "", None, target, [])
    path = upgrade_path(calendar, version, target)
    if on < dates.end_of_standard:
        phase: Phase = "standard"
        deadline, name = dates.end_of_standard, "end of standard support"
    elif on < dates.end_of_extended:
        phase, deadline, name = "extended", dates.end_of_extended, "end of extended support"
    else:
        return Status(version, on, "unsupported", dates.end_of_extended, "end of extended support", None, target, path)
    return Status(version, on, phase, deadline, name, (deadline - on).days, target, path)
