"""Refresh the EKS calendar from AWS: eks:DescribeClusterVersions, every page, merged into a known calendar.

AWS is the authority for the dates it returns, so they override the calendar's; a row AWS does not return (a
version older than it still lists) is kept, never dropped. AWS sends timestamps such as
2025-11-25T16:00:00-08:00 for "end of standard support on 2025-11-26": the date used is the UTC date, the day
from whose 00:00 UTC AWS bills extended support.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime
from typing import Any, Literal

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError
from pydantic import BaseModel, ConfigDict, ValidationError

from fleet.datafiles import describe
from fleet.eks.calendar import BadVersion, Calendar, VersionDates, normalise

OPERATION = "eks:DescribeClusterVersions"
# Standard mode retries throttling and 5xx with backoff, a few times: a calendar read is cheap to repeat.
CLIENT_CONFIG = Config(retries={"mode": "standard", "max_attempts": 3}, connect_timeout=5, read_timeout=30)
ChangeKind = Literal["added", "changed", "confirmed", "kept", "skipped"]


class RefreshError(Exception):
    """AWS could not be asked or refused: the calendar is unchanged and nothing can be concluded."""


class AwsVersion(BaseModel):
    """One ClusterVersionInformation row, reduced to what the calendar keeps (UTC dates)."""

    model_config = ConfigDict(frozen=True)
    version: str
    released: date | None = None
    end_of_standard: date | None = None
    end_of_extended: date | None = None
    version_status: str | None = None  # STANDARD_SUPPORT, EXTENDED_SUPPORT or UNSUPPORTED, on the day asked


class RowChange(BaseModel):
    model_config = ConfigDict(frozen=True)
    version: str
    change: ChangeKind
    # field -> [old, new] for "changed"; the new row's dates for "added"
    fields: dict[str, list[str | None]] = {}
    note: str = ""


class Refresh(BaseModel):
    model_config = ConfigDict(frozen=True)
    source: str
    calendar: Calendar
    changes: list[RowChange]
    returned: int  # rows AWS returned for standard EKS clusters

    def count(self, change: ChangeKind) -> int:
        return sum(1 for c in self.changes if c.change == change)


def source_for(region: str, on: date) -> str:
    return f"aws eks describe-cluster-versions, {region}, {on.isoformat()}"


def _utc_date(value: Any) -> date | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return (value.astimezone(UTC) if value.tzinfo else value).date()
    raise RefreshError(f"{OPERATION} returned a date that is not a timestamp: {value!r}")


def to_aws_version(row: Mapping[str, Any]) -> AwsVersion | None:
    """A response row as AwsVersion; None for another cluster type (EKS on Outposts) or a non-version."""
    if row.get("clusterType") not in (None, "eks"):
        return None
    try:
        version = normalise(str(row.get("clusterVersion", "")))
    except BadVersion:
        return None
    return AwsVersion(
        version=version,
        released=_utc_date(row.get("releaseDate")),
        end_of_standard=_utc_date(row.get("endOfStandardSupportDate")),
        end_of_extended=_utc_date(row.get("endOfExtendedSupportDate")),
        version_status=row.get("versionStatus") or row.get("status"),
    )


def fetch_versions(region: str, endpoint_url: str | None = None) -> list[AwsVersion]:
    """Every EKS version AWS describes in `region`, all pages. Raises RefreshError."""
    try:
        client: Any = boto3.session.Session(region_name=region).client(
            "eks", endpoint_url=endpoint_url, config=CLIENT_CONFIG
        )
        # includeAll: also the versions past their support, so the calendar learns their final dates too.
        pages = client.get_paginator("describe_cluster_versions").paginate(includeAll=True)
        rows = [row for page in pages for row in page.get("clusterVersions", [])]
    except ClientError as exc:
        error = exc.response.get("Error", {})
        code, message = error.get("Code", "Unknown"), error.get("Message", str(exc))
        hint = " (the IAM principal needs eks:DescribeClusterVersions)" if "AccessDenied" in code else ""
        raise RefreshError(f"{OPERATION} in {region} failed: {code}: {message}{hint}") from exc
    except NoCredentialsError as exc:
        raise RefreshError(f"{OPERATION}: no AWS credentials found (AWS_PROFILE, AWS_ACCESS_KEY_ID)") from exc
    except BotoCoreError as exc:
        raise RefreshError(f"{OPERATION} in {region} failed: {type(exc).__name__}: {exc}") from exc
    found = [v for v in (to_aws_version(row) for row in rows) if v is not None]
    return sorted({v.version: v for v in found}.values(), key=lambda v: tuple(map(int, v.version.split("."))))


def _dates(d: VersionDates) -> dict[str, str | None]:
    return {
        "released": d.released.isoformat() if d.released else None,
        "end_of_standard": d.end_of_standard.isoformat(),
        "end_of_extended": d.end_of_extended.isoformat(),
    }


def _merged_row(aws: AwsVersion, old: VersionDates | None, source: str) -> VersionDates | str:
    """The row AWS's answer gives, or why it gives none. AWS's dates win; a date it omits is never guessed,
    and a row is never half AWS's and half the calendar's (its one `source` would then be wrong)."""
    kept = "; the calendar's row is kept" if old else "; not added (fleet never guesses them)"
    if aws.end_of_standard is None or aws.end_of_extended is None:
        return f"AWS gave no end-of-support dates for it yet{kept}"
    try:
        return VersionDates(
            # A release date AWS omits is no support date: the calendar's is kept, it only gates recommending.
            released=aws.released or (old.released if old else None),
            end_of_standard=aws.end_of_standard,
            end_of_extended=aws.end_of_extended,
            source=source,
        )
    except ValidationError as exc:
        return f"AWS's dates do not fit together ({describe(exc)}){kept}"


def merge(base: Calendar, fetched: Iterable[AwsVersion], source: str) -> Refresh:
    """`base` updated with AWS's rows. Every base row survives; each row's fate is listed in `changes`."""
    versions = dict(base.versions)
    changes: list[RowChange] = []
    returned: set[str] = set()
    for aws in fetched:
        returned.add(aws.version)
        old = versions.get(aws.version)
        row = _merged_row(aws, old, source)
        if isinstance(row, str):
            changes.append(RowChange(version=aws.version, change="skipped", note=row))
            continue
        versions[aws.version] = row
        new = _dates(row)
        if old is None:
            changes.append(
                RowChange(version=aws.version, change="added", fields={k: [None, v] for k, v in new.items()})
            )
            continue
        before = _dates(old)
        diff = {k: [before[k], new[k]] for k in new if before[k] != new[k]}
        if old.estimated and not row.estimated:
            diff["estimated"] = ["true", "false"]
        changes.append(RowChange(version=aws.version, change="changed" if diff else "confirmed", fields=diff))
    for version in base.versions:
        if version not in returned:
            note = "not returned by AWS; kept from the calendar"
            changes.append(RowChange(version=version, change="kept", note=note))
    calendar = Calendar(versions=versions)
    order = {v: i for i, v in enumerate(calendar.ordered())}
    changes.sort(key=lambda c: order.get(c.version, len(order)))
    return Refresh(source=source, calendar=calendar, changes=changes, returned=len(returned))
