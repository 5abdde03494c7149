"""Checks of the container files: every Dockerfile (hadolint, invariants), compose.yaml, and the app's writable
paths against its read-only mounts. checks.py registers every class in CHECKS, in this order.

The parsing lives beside this file: container_dockerfile.py, container_compose.py, container_writable.py."""

from __future__ import annotations

from fleet.validate.base import Check, CheckResult, Context
from fleet.validate.container_compose import compose_findings
from fleet.validate.container_dockerfile import (
    dockerfile_findings,
    find_dockerfiles,
    ignore_reason_findings,
    run_hadolint,
)
from fleet.validate.container_writable import writable_path_findings


class HadolintCheck(Check):
    name = "hadolint"
    description = (
        "hadolint (no config file) over every Dockerfile: warning and error findings fail; each inline "
        "`# hadolint ignore=` needs a reason comment on the line above"
    )

    def run(self, ctx: Context) -> CheckResult:
        files = find_dockerfiles(ctx.root)
        errors, warnings = run_hadolint(files, ctx.root)
        for path in files:
            errors += ignore_reason_findings(path, ctx.root)
        return CheckResult.from_findings(self.name, f"{len(files)} Dockerfile(s)", errors, warnings, len(files))


class DockerfileInvariantsCheck(Check):
    name = "dockerfile-invariants"
    description = (
        "every Dockerfile: multi-stage, the final stage's USER a numeric non-root UID, the OCI labels, a "
        "HEALTHCHECK, no ADD of a URL"
    )

    def run(self, ctx: Context) -> CheckResult:
        files = find_dockerfiles(ctx.root)
        errors = [error for path in files for error in dockerfile_findings(path, ctx.root)]
        return CheckResult.from_findings(self.name, f"{len(files)} Dockerfile(s)", errors, [], len(files))


class ComposeCheck(Check):
    name = "compose"
    description = (
        "compose.yaml: the services of each profile (default, test, observability, cluster), every build "
        "context, Dockerfile, target, bind mount and env_file exists, ports on 127.0.0.1 only, our image's "
        "services run as a numeric non-root user on a read-only root (mounts: writable-paths)"
    )

    def run(self, ctx: Context) -> CheckResult:
        errors, services = compose_findings(ctx.root)
        return CheckResult.from_findings(self.name, f"{services} service(s)", errors, [], services)


class WritablePathsCheck(Check):
    name = "writable-paths"
    description = (
        "each path in load_harness/writable.py is where the Dockerfile's runtime ENV puts it, and a writable "
        "tmpfs/volume in every read-only compose service of our image and an emptyDir/PVC mount in the Deployment"
    )

    def run(self, ctx: Context) -> CheckResult:
        errors, checked = writable_path_findings(ctx.root)
        return CheckResult.from_findings(self.name, f"{checked} path × place pair(s)", errors, [], checked)


CHECKS: list[type[Check]] = [HadolintCheck, DockerfileInvariantsCheck, ComposeCheck, WritablePathsCheck]
