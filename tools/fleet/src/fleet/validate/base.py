"""The check framework behind `fleet validate`: a Check has a name and run() -> CheckResult; a registry
holds them in order, so later work adds a check by writing a class and decorating it with @register.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from pydantic import BaseModel

from fleet.validate.render import clear_cache

DEFAULT_K8S_VERSION = "1.35.0"  # the clusters' version (shared GitOps conventions)


@dataclass(frozen=True)
class Context:
    """What every check may look at."""

    root: Path  # the repository root
    k8s_version: str = DEFAULT_K8S_VERSION

    @property
    def k8s_dir(self) -> Path:
        return self.root / "k8s"

    @property
    def yamllint_config(self) -> Path:
        return self.root / ".yamllint.yaml"


class Status(StrEnum):
    PASS = "pass"  # noqa: S105  (a verdict, not a password); looked at something and found nothing wrong
    FAIL = "fail"
    NOTHING = "nothing"  # had nothing to look at: not a pass, so "all checks passed" cannot hide an empty tree


class CheckResult(BaseModel):
    name: str
    ok: bool  # no errors; a check with nothing to look at is ok but not a PASS
    summary: str
    errors: list[str] = []
    warnings: list[str] = []
    checked: int = 0  # how many things (files, objects, apps) the check looked at

    @property
    def status(self) -> Status:
        if not self.ok:
            return Status.FAIL
        return Status.PASS if self.checked else Status.NOTHING

    @classmethod
    def from_findings(
        cls, name: str, summary: str, errors: list[str], warnings: list[str], checked: int
    ) -> CheckResult:
        return cls(name=name, ok=not errors, summary=summary, errors=errors, warnings=warnings, checked=checked)


class Check(ABC):
    name: str = ""
    description: str = ""

    @abstractmethod
    def run(self, ctx: Context) -> CheckResult:
        """Inspect the repository; never raise for a finding, return it."""


_REGISTRY: dict[str, Check] = {}


def register(cls: type[Check]) -> type[Check]:
    """Class decorator: instantiate the check and add it to the registry (names are unique)."""
    check = cls()
    if not check.name or check.name in _REGISTRY:
        raise ValueError(f"check {cls.__name__} needs a unique name, got {check.name!r}")
    _REGISTRY[check.name] = check
    return cls


def registered() -> list[Check]:
    """Every registered check, in registration order."""
    return list(_REGISTRY.values())


def run_checks(ctx: Context, names: list[str] | None = None) -> list[CheckResult]:
    """Run the named checks (all when None). Raises KeyError naming an unknown check."""
    checks = registered()
    if names:
        unknown = [n for n in names if n not in _REGISTRY]
        if unknown:
            raise KeyError(f"unknown check(s) {', '.join(unknown)}; known: {', '.join(_REGISTRY)}")
        checks = [_REGISTRY[n] for n in names]
    clear_cache()  # every run builds the tree as it is now; checks within the run share the builds
    results: list[CheckResult] = []
    for check in checks:
        try:
            results.append(check.run(ctx))
        except Exception as exc:  # a crashing check is a failed check, not a crashed command
            crash = [f"{type(exc).__name__}: {exc}"]
            results.append(CheckResult(name=check.name, ok=False, summary="check crashed", errors=crash))
    return results
