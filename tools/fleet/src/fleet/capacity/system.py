"""The system pods of `fleet capacity budget`: what runs on the node that the manifests do not show.

Two kinds, both in data/system-pods.yaml: the EKS add-ons the cluster has installed (`--addons`, default the
platform's set), and components installed outside the manifests (Flux's controllers). An entry that names a chart
gives way to a HelmRelease of that chart in the manifests, so a component is never counted twice.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, model_validator

from fleet.capacity.requests import Requests, RequestsSpec
from fleet.datafiles import load_model, packaged


class SystemEntry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    pods: Annotated[int, Field(ge=0)]
    what: str = ""
    source: str = ""
    namespace: str | None = None  # add-ons only; a system_pods entry is keyed by its namespace
    charts: list[str] = []  # a HelmRelease of one of these charts replaces the entry
    # What all of the entry's pods on one node request together; None: not known (counted 0, with a warning).
    requests: RequestsSpec | None = None
    requests_source: str = ""


class SystemTable(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    addons: dict[str, SystemEntry] = {}
    default_addons: list[str] = []
    system_pods: dict[str, SystemEntry] = {}

    @model_validator(mode="after")
    def _defaults_are_known(self) -> SystemTable:
        unknown = [a for a in self.default_addons if a not in self.addons]
        if unknown:
            raise ValueError(f"default_addons names add-ons that `addons` lacks: {', '.join(unknown)}")
        return self


def load_system_table(path: Path | None = None) -> SystemTable:
    return load_model(path or packaged("system-pods.yaml"), SystemTable)


class SystemRow(BaseModel):
    """One line of the system part of the budget."""

    model_config = ConfigDict(frozen=True)
    namespace: str
    name: str  # the add-on or the namespace entry's name
    pods: int
    what: str
    source: str
    charts: list[str] = []
    addon: bool = False  # an EKS add-on (chosen with --addons) rather than a system_pods entry
    replaced_by: str | None = None  # "HelmRelease ns/name" when the manifests install it instead
    requests: Requests | None = None  # None: unknown

    @property
    def counted(self) -> bool:
        return self.replaced_by is None and self.pods > 0


def parse_addons(raw: str | None, table: SystemTable) -> list[str]:
    """`--addons a,b` replaces the default set; `--addons +a,+b` adds to it. Raises ValueError naming the value."""
    if raw is None:
        return list(table.default_addons)
    items = [item.strip() for item in raw.split(",") if item.strip()]
    additive = bool(items) and all(item.startswith("+") for item in items)
    if not additive and any(item.startswith("+") for item in items):
        raise ValueError(f"--addons {raw!r}: use either a full list or only +NAME additions, not both")
    names = [item.lstrip("+") for item in items]
    unknown = [n for n in names if n not in table.addons]
    if unknown:
        known = ", ".join(sorted(table.addons))
        raise ValueError(f"--addons {raw!r}: unknown add-on {', '.join(unknown)}; known: {known}")
    chosen = [*table.default_addons, *names] if additive else names
    return list(dict.fromkeys(chosen))


def system_rows(table: SystemTable, addons: list[str], overrides: dict[str, int]) -> list[SystemRow]:
    """The add-ons chosen, then the namespace entries; an override replaces every row of its namespace."""
    rows = [
        SystemRow(
            namespace=entry.namespace or "kube-system",
            name=name,
            pods=entry.pods,
            what=entry.what,
            source=entry.source or "EKS add-on",
            charts=entry.charts,
            addon=True,
            requests=entry.requests.requests() if entry.requests else None,
        )
        for name in addons
        for entry in [table.addons[name]]
    ]
    rows += [
        SystemRow(
            namespace=ns,
            name=ns,
            pods=e.pods,
            what=e.what,
            source=e.source,
            charts=e.charts,
            requests=e.requests.requests() if e.requests else None,
        )
        for ns, e in table.system_pods.items()
    ]
    rows = [row for row in rows if row.namespace not in overrides]
    rows += [
        SystemRow(namespace=ns, name=ns, pods=pods, what="set by --system-pods", source="--system-pods")
        for ns, pods in overrides.items()
    ]
    return [row for row in rows if row.pods > 0]


def replace_by_releases(rows: list[SystemRow], releases: dict[str, str]) -> list[SystemRow]:
    """Mark the rows whose chart the manifests install; `releases` maps a chart name to "HelmRelease ns/name"."""
    out = []
    for row in rows:
        by = next((releases[c] for c in row.charts if c in releases), None)
        out.append(row.model_copy(update={"replaced_by": by}) if by else row)
    return out
