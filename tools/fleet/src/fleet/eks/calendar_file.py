"""Which calendar file `fleet eks` reads, and writing one back.

Lookup order, first match wins:
  1. `--calendar FILE`: that file alone, as it is.
  2. `$FLEET_EKS_CALENDAR`: that file alone, as it is.
  3. the user calendar that `fleet eks calendar --refresh` writes, `$XDG_DATA_HOME/fleet/eks-versions.yaml`
     (default `~/.local/share/fleet/eks-versions.yaml`), when it exists: its rows override the packaged ones
     version by version, and packaged rows it lacks still count, so a newer fleet's packaged rows are never
     hidden by an older refresh.
  4. the packaged calendar, `fleet/data/eks-versions.yaml` (read-only in an installed wheel).

The packaged file may not be writable, which is why a refresh writes to the user calendar by default.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from fleet.datafiles import DataFileError, packaged
from fleet.eks.calendar import PACKAGED_CALENDAR, Calendar, VersionDates, load_calendar

ENV_VAR = "FLEET_EKS_CALENDAR"
Origin = Literal["--calendar", "$FLEET_EKS_CALENDAR", "user", "packaged"]
CALENDAR_HELP = "Calendar file to use alone (else $FLEET_EKS_CALENDAR, then the user calendar, then the packaged one)."
REFRESH_NOTE = "# Refreshed by `fleet eks calendar --refresh`"


def user_calendar_path() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "fleet" / PACKAGED_CALENDAR


@dataclass(frozen=True)
class LoadedCalendar:
    calendar: Calendar
    path: Path  # the file read (for "user", the user calendar; the packaged one fills its gaps)
    origin: Origin

    def describe(self) -> str:
        if self.origin == "user":
            return f"{self.path} (user calendar, over the packaged one)"
        return f"{self.path} ({self.origin})"


def chosen_file(flag: Path | None) -> tuple[Path, Origin]:
    """The file the lookup order picks, without reading it."""
    if flag is not None:
        return flag, "--calendar"
    if os.environ.get(ENV_VAR):
        return Path(os.environ[ENV_VAR]), "$FLEET_EKS_CALENDAR"
    user = user_calendar_path()
    if user.is_file():
        return user, "user"
    return packaged(PACKAGED_CALENDAR), "packaged"


def load_effective(flag: Path | None = None, *, to_create: bool = False) -> LoadedCalendar:
    """The calendar `fleet eks` uses, by the lookup order above. Raises DataFileError.

    `to_create` (a refresh): a --calendar or $FLEET_EKS_CALENDAR file that does not exist yet starts as the
    packaged calendar, so that the refresh creates it."""
    path, origin = chosen_file(flag)
    if to_create and origin in ("--calendar", "$FLEET_EKS_CALENDAR") and not path.exists():
        return LoadedCalendar(load_calendar(), path, origin)
    calendar = load_calendar(path)
    if origin == "user":
        base = load_calendar()
        calendar = Calendar(versions={**base.versions, **calendar.versions})
    return LoadedCalendar(calendar, path, origin)


def header_comments(path: Path) -> list[str]:
    """The comment lines at the top of a calendar file (what it is, where its dates come from), without an
    earlier refresh note, so that a rewrite keeps them; the packaged file's when `path` does not exist yet."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        return header_comments(packaged(PACKAGED_CALENDAR)) if path != packaged(PACKAGED_CALENDAR) else []
    except OSError:
        return []
    head: list[str] = []
    for line in lines:
        if not line.startswith("#"):
            break
        if not line.startswith(REFRESH_NOTE):
            head.append(line)
    return head


def _row(dates: VersionDates) -> str:
    fields: list[str] = []
    if dates.released is not None:
        fields.append(f"released: {dates.released.isoformat()}")
    fields += [f"end_of_standard: {dates.end_of_standard.isoformat()}", f"end_of_extended: {dates.end_of_extended}"]
    if dates.estimated:
        fields.append("estimated: true")
    if dates.source:
        fields.append(f"source: {json.dumps(dates.source)}")  # a JSON string is a YAML double-quoted scalar
    return "{" + ", ".join(fields) + "}"


def render(calendar: Calendar, header: list[str], refreshed: str | None = None) -> str:
    """The calendar as YAML, one flow mapping per version (the packaged file's layout), oldest first."""
    lines = list(header)
    if refreshed:
        lines.append(f"{REFRESH_NOTE} from {refreshed}.")
    lines.append("versions:")
    lines += [f'  "{v}": {_row(calendar.versions[v])}' for v in calendar.ordered()]
    return "\n".join(lines) + "\n"


def write_calendar(path: Path, text: str) -> None:
    """Replace `path` atomically (a reader never sees half a calendar). Raises DataFileError."""
    temporary: Path | None = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile("w", encoding="utf-8", dir=path.parent, delete=False, suffix=".tmp") as f:
            temporary = Path(f.name)
            f.write(text)
        os.replace(temporary, path)
    except OSError as exc:
        if temporary is not None:
            temporary.unlink(missing_ok=True)
        raise DataFileError(f"{path}: cannot write: {exc.strerror or exc}") from exc
