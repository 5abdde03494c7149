"""The EKS version calendar and what it means for one version on one date.

Support phases: standard until 00:00 UTC on the end-of-standard date (from then AWS bills extended support),
extended until the end-of-extended date, then unsupported (AWS upgrades the control plane itself).

The upgrade policy changes what happens at the end of standard support. EXTENDED (AWS's default for clusters
made through the API or Terraform) bills extended support at 6x; STANDARD makes AWS upgrade the cluster to the
next minor version automatically on that date instead, so such a cluster never pays for extended support.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, field_validator, model_validator

from fleet.datafiles import load_model, packaged

# "auto-upgrade": past the end of standard support under the STANDARD policy, so AWS upgrades instead of billing.
# "newer": newer than every version in the calendar; its dates are not known yet, but it cannot be out of support.
# "unknown": older than the calendar's newest yet missing from it (a gap, or older than the oldest listed).
Phase = Literal["standard", "extended", "unsupported", "auto-upgrade", "newer", "unknown"]
Policy = Literal["STANDARD", "EXTENDED"]
VERSION_RE = re.compile(r"^\d+\.\d+$")
# What a user or a Terraform file may write: 1.32, v1.32, 1.32.5, 1.32.5-eks-abc123. Anything else is bad input.
VERSION_INPUT_RE = re.compile(r"^v?(\d+)\.(\d+)(?:\.\d+)?(?:[-+][0-9A-Za-z.-]+)?$")


class BadVersion(ValueError):
    """A version string that is not a Kubernetes version at all ("abc", "1", "1.32x")."""


class VersionDates(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    released: date | None = None
    end_of_standard: date
    end_of_extended: date
    # Where the dates come from, e.g. "aws eks describe-cluster-versions, eu-west-2, 2026-11-26".
    source: str | None = None
    # True when the dates were computed (14 + 12 months from the EKS release) rather than published by AWS;
    # every output that uses such a row says so.
    estimated: bool = False

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
    """'v1.32', '1.32.5' and '1.32' all mean the EKS minor version 1.32. Raises BadVersion otherwise."""
    match = VERSION_INPUT_RE.match(version.strip())
    if not match:
        raise BadVersion(f"{version!r} is not a Kubernetes version (expected MAJOR.MINOR, e.g. 1.35)")
    return f"{int(match.group(1))}.{int(match.group(2))}"


PACKAGED_CALENDAR = "eks-versions.yaml"


def load_calendar(path: Path | None = None) -> Calendar:
    """One calendar file as it is (the packaged one by default); `fleet.eks.calendar_file` applies the lookup
    order (--calendar, $FLEET_EKS_CALENDAR, the refreshed user calendar, the packaged one)."""
    return load_model(path or packaged(PACKAGED_CALENDAR), Calendar)


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
    policy: Policy = "EXTENDED"
    # When AWS upgrades the control plane on its own: the end of standard support under STANDARD, the end of
    # extended support under EXTENDED; None when the calendar does not know the version.
    auto_upgrade_on: date | None = None
    newest_known: str = ""  # the calendar's newest version, for "newer than the calendar knows"
    dates_source: str | None = None  # the calendar row's `source`, when it names one
    # The versions this status relies on (the cluster's own and the recommended one) whose dates are estimates.
    estimated: tuple[str, ...] = ()

    def in_warning_window(self, warn_days: int) -> bool:
        return self.days_left is not None and self.days_left <= warn_days


def recommended_target(calendar: Calendar, on: date) -> str:
    """The newest released version still in standard support on `on`, else the newest listed."""
    candidates = [v for v in calendar.ordered() if _in_standard_support(calendar.versions[v], on)]
    return (candidates or calendar.ordered())[-1]


def _in_standard_support(dates: VersionDates, on: date) -> bool:
    released = dates.released is None or dates.released <= on
    return released and on < dates.end_of_standard


def _estimated(calendar: Calendar, version: str) -> bool:
    dates = calendar.versions.get(version)
    return dates is not None and dates.estimated


def upgrade_path(calendar: Calendar, current: str, target: str) -> list[str]:
    """EKS upgrades one minor version at a time, so every listed version between current and target."""
    lo, hi = version_key(current), version_key(target)
    return [v for v in calendar.ordered() if lo < version_key(v) <= hi]


def status(calendar: Calendar, version: str, on: date, policy: Policy = "EXTENDED") -> Status:
    """Where `version` stands on `on` under `policy`. Raises BadVersion for a string that is not a version."""
    version = normalise(version)
    newest = calendar.ordered()[-1]
    # Never recommend a downgrade: EKS cannot go back a minor version, and a newer one is the goal anyway.
    target = max(recommended_target(calendar, on), version, key=version_key)
    dates = calendar.versions.get(version)

    def make(phase: Phase, deadline: date | None = None, name: str = "", days: bool = False) -> Status:
        days_left = (deadline - on).days if days and deadline else None
        path = upgrade_path(calendar, version, target) if dates else []
        auto = None if dates is None else dates.end_of_standard if policy == "STANDARD" else dates.end_of_extended
        source = dates.source if dates else None
        guessed = tuple(v for v in dict.fromkeys((version, target)) if _estimated(calendar, v))
        return Status(
            version, on, phase, deadline, name, days_left, target, path, policy, auto, newest, source, guessed
        )

    if dates is None:
        return make("newer" if version_key(version) > version_key(newest) else "unknown")
    if on < dates.end_of_standard:
        return make("standard", dates.end_of_standard, "end of standard support", days=True)
    if policy == "STANDARD":
        # AWS upgrades instead of billing: the date has passed, so the cluster is being or has been upgraded.
        return make("auto-upgrade", dates.end_of_standard, "end of standard support")
    if on < dates.end_of_extended:
        return make("extended", dates.end_of_extended, "end of extended support", days=True)
    return make("unsupported", dates.end_of_extended, "end of extended support")
