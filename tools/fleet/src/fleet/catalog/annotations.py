"""The catalog contract: the annotations `fleet new-app` writes on an app's Deployment and `fleet catalog` reads.

One home for the keys, the allowed tiers and the value rules, so the scaffold, the catalog and `fleet validate`
cannot drift apart. Every rule returns the reason a value is wrong (or None); callers add the subject (a flag
for new-app, "app X: annotation K" for validate).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict

# A neutral, documented prefix: annotation keys must be DNS-subdomain prefixed, and this one claims no vendor.
PREFIX = "fleet.platform"

# Tier -> Backstage spec.lifecycle. Backstage's well-known lifecycles are experimental, production, deprecated;
# both paying tiers are "production", the tier itself says how hard the pager rings.
TIER_LIFECYCLE: dict[str, str] = {"critical": "production", "standard": "production", "experimental": "experimental"}
# The SLO a tier gets when new-app is not given --slo.
TIER_DEFAULT_SLO: dict[str, str] = {"critical": "99.9%", "standard": "99.5%", "experimental": "99.0%"}

# An availability target in percent, up to three decimals: "99.5%", "99.95%". 100 % is not a target anyone meets.
SLO_RE = re.compile(r"^(?P<value>\d{1,2}(?:\.\d{1,3})?)%$")
# Backstage entity reference for an owner: "team-cart", "group:team-cart", "group:default/team-cart".
OWNER_RE = re.compile(r"^(?:(?:group|user):)?(?:[a-z0-9][-a-z0-9]*/)?[a-z0-9]([-a-z0-9._]{0,61}[a-z0-9])?$")


def tier_problem(value: str) -> str | None:
    if value in TIER_LIFECYCLE:
        return None
    return f"must be one of {', '.join(TIER_LIFECYCLE)}"


def slo_problem(value: str) -> str | None:
    match = SLO_RE.match(value)
    if match and 0 < float(match["value"]) < 100:
        return None
    return 'must be an availability target in percent, above 0 and below 100, e.g. "99.5%" or "99.95%"'


def owner_problem(value: str) -> str | None:
    if OWNER_RE.match(value):
        return None
    return (
        "must be a team as a Backstage entity reference: lowercase letters, digits, '-', '.', '_', optionally "
        'prefixed "group:" or "user:" and a namespace, e.g. "team-cart" or "group:default/team-cart"'
    )


def url_problem(value: str) -> str | None:
    parts = urlsplit(value)
    if parts.scheme in ("http", "https") and parts.hostname and not any(c.isspace() for c in value):
        return None
    return "must be an http:// or https:// URL with a host"


class Field(BaseModel):
    """One catalog annotation: its key, the new-app flag that sets it, whether validate requires it, its rule."""

    model_config = ConfigDict(frozen=True)

    name: str
    flag: str
    required: bool
    rule: Callable[[str], str | None]

    @property
    def key(self) -> str:
        return f"{PREFIX}/{self.name}"


FIELDS: tuple[Field, ...] = (
    Field(name="owner", flag="--owner", required=True, rule=owner_problem),
    Field(name="tier", flag="--tier", required=True, rule=tier_problem),
    Field(name="slo", flag="--slo", required=True, rule=slo_problem),
    Field(name="runbook", flag="--runbook", required=True, rule=url_problem),
    # Optional: a new app often has no dashboard yet; the catalog shows "-" until one is annotated.
    Field(name="dashboard", flag="--dashboard", required=False, rule=url_problem),
    Field(name="repo", flag="--repo", required=True, rule=url_problem),
)
REQUIRED_KEYS: tuple[str, ...] = tuple(f.key for f in FIELDS if f.required)


class CatalogAnnotations(BaseModel):
    """The values behind the annotations; `dashboard` may be absent."""

    model_config = ConfigDict(frozen=True)

    owner: str
    tier: str
    slo: str
    runbook: str
    dashboard: str | None = None
    repo: str

    def as_annotations(self) -> dict[str, str]:
        values = self.model_dump()
        return {f.key: values[f.name] for f in FIELDS if values[f.name] is not None}

    @property
    def lifecycle(self) -> str:
        return TIER_LIFECYCLE[self.tier]


def option_problems(annotations: CatalogAnnotations) -> list[str]:
    """Problems with values given on new-app's command line, each naming the flag and the value."""
    values = annotations.model_dump()
    out: list[str] = []
    for field in FIELDS:
        value = values[field.name]
        reason = field.rule(value) if value is not None else None
        if reason:
            out.append(f"{field.flag} {value!r}: {reason}")
    return out


def annotation_problems(annotations: Mapping[str, str]) -> list[str]:
    """Problems with the annotations found on a manifest, each naming the annotation key."""
    out: list[str] = []
    for field in FIELDS:
        value = annotations.get(field.key)
        if value is None:
            if field.required:
                out.append(f"missing annotation {field.key} (new-app sets it with {field.flag})")
            continue
        reason = field.rule(str(value))
        if reason:
            out.append(f"annotation {field.key} {str(value)!r}: {reason}")
    return out
