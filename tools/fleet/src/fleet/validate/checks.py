"""The checks `fleet validate` runs, in order. Each is registered on import.

Every check reports how many things it looked at (`checked`): zero means "nothing to check", never a pass.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from fleet.catalog.annotations import CatalogAnnotations
from fleet.catalog.reader import read_entry
from fleet.k8s_yaml import iter_yaml_files
from fleet.newapp.render import scaffold
from fleet.newapp.spec import AppSpec
from fleet.validate.apps import AppAnnotationsCheck, AppNamespaceQuotaCheck
from fleet.validate.base import Check, CheckResult, Context, register
from fleet.validate.render import render_all, rendered_objects
from fleet.validate.rendered import crd_schema_findings, rendered_schema_findings, unique_objects
from fleet.validate.yamlfiles import crd_findings, kustomize_findings, schema_findings, yamllint_findings


def _k8s_files(ctx: Context) -> list[Path]:
    return list(iter_yaml_files(ctx.k8s_dir)) if ctx.k8s_dir.is_dir() else []


def _where(ctx: Context) -> str:
    return "" if ctx.k8s_dir.is_dir() else f" (no {ctx.k8s_dir})"


@register
class K8sPresentCheck(Check):
    name = "k8s-present"
    description = "k8s/ exists and holds YAML: a missing or empty GitOps tree is an error, not 'nothing to check'"

    def run(self, ctx: Context) -> CheckResult:
        files = _k8s_files(ctx)
        errors = [] if files else [f"{ctx.k8s_dir}: {'empty (no YAML files)' if ctx.k8s_dir.is_dir() else 'missing'}"]
        summary = f"{len(files)} YAML file(s) under k8s/"
        return CheckResult.from_findings(self.name, summary, errors, [], max(len(files), 1))


@register
class YamllintCheck(Check):
    name = "yamllint"
    description = "yamllint with the repository's .yamllint.yaml over YAML under k8s/"

    def run(self, ctx: Context) -> CheckResult:
        files = _k8s_files(ctx)
        errors, warnings = yamllint_findings(files, ctx.yamllint_config, ctx.root)
        return CheckResult.from_findings(self.name, f"{len(files)} file(s){_where(ctx)}", errors, warnings, len(files))


@register
class KustomizeResourcesCheck(Check):
    name = "kustomize-resources"
    description = "every local resource a kustomization.yaml under k8s/ lists exists"

    def run(self, ctx: Context) -> CheckResult:
        if not ctx.k8s_dir.is_dir():
            return CheckResult.from_findings(self.name, f"0 kustomization(s){_where(ctx)}", [], [], 0)
        errors, count = kustomize_findings(ctx.k8s_dir, ctx.root)
        return CheckResult.from_findings(self.name, f"{count} kustomization(s)", errors, [], count)


@register
class KustomizeBuildCheck(Check):
    name = "kustomize-build"
    description = (
        "kustomize (pinned, tools/fleet/crd-models) builds every overlay, Flux Kustomization path and local overlay; "
        "cluster-vars substitution leaves no ${VAR}"
    )

    def run(self, ctx: Context) -> CheckResult:
        rendered = render_all(ctx.root)
        errors = [e for r in rendered for e in r.errors]
        objects = sum(len(r.objects) for r in rendered)
        summary = f"{len(rendered)} target(s), {objects} object(s)"
        return CheckResult.from_findings(self.name, summary, errors, [], len(rendered))


@register
class KubernetesSchemaCheck(Check):
    name = "k8s-schema"
    description = "kubernetes-validate --strict on every rendered built-in object (custom resources: crd-schema)"

    def run(self, ctx: Context) -> CheckResult:
        errors, checked, deferred = rendered_schema_findings(
            unique_objects(rendered_objects(ctx.root)), ctx.k8s_version
        )
        summary = (
            f"{checked} rendered object(s) against Kubernetes {ctx.k8s_version}, {deferred} custom resource(s) deferred"
        )
        return CheckResult.from_findings(self.name, summary + _where(ctx), errors, [], checked)


@register
class CrdSchemaCheck(Check):
    name = "crd-schema"
    description = "every rendered custom resource against its CRD's openAPIV3Schema, unknown fields rejected"

    def run(self, ctx: Context) -> CheckResult:
        errors, checked = crd_schema_findings(unique_objects(rendered_objects(ctx.root)), ctx.k8s_version)
        return CheckResult.from_findings(self.name, f"{checked} custom resource(s){_where(ctx)}", errors, [], checked)


@register
class CrdStructureCheck(Check):
    name = "crd-structure"
    description = "apiVersion/kind/metadata.name and required spec fields of custom resources in the files under k8s/"

    def run(self, ctx: Context) -> CheckResult:
        errors, warnings, checked = crd_findings(_k8s_files(ctx), ctx.root, ctx.k8s_version)
        return CheckResult.from_findings(
            self.name, f"{checked} custom resource(s){_where(ctx)}", errors, warnings, checked
        )


# What the sample renderings use; the digest is a made-up one of the right shape.
SAMPLE_IMAGE = "ghcr.io/example/sample-app:1.0.0@sha256:" + "0" * 64
SAMPLE_ANNOTATIONS = CatalogAnnotations(
    owner="team-platform",
    tier="standard",
    slo="99.5%",
    runbook="https://runbooks.example.com/sample-app",
    dashboard="https://grafana.example.com/d/sample-app",
    repo="https://github.com/example/sample-app",
)


@register
class NewAppOutputCheck(Check):
    name = "new-app-output"
    description = "sample `fleet new-app` renderings (shared and own namespace) pass the file and catalog checks"

    def run(self, ctx: Context) -> CheckResult:
        errors: list[str] = []
        warnings: list[str] = []
        files: list[Path] = []
        with tempfile.TemporaryDirectory(prefix="fleet-new-app-") as tmp:
            base = Path(tmp)
            for own_namespace in (False, True):
                spec = AppSpec(
                    name="sample-app" if not own_namespace else "sample-own",
                    image=SAMPLE_IMAGE,
                    annotations=SAMPLE_ANNOTATIONS,
                    namespace="applications" if not own_namespace else "sample-own",
                    own_namespace=own_namespace,
                )
                app_dir = scaffold(spec, base)
                app_files = list(iter_yaml_files(app_dir))
                files += app_files
                lint_errors, lint_warnings = yamllint_findings(app_files, ctx.yamllint_config, base)
                schema_errors, _, _, _ = schema_findings(app_files, base, ctx.k8s_version)
                crd_errors, crd_notes, _ = crd_findings(app_files, base, ctx.k8s_version)
                kustomize_errors, _ = kustomize_findings(app_dir, base)
                catalog_errors = [f"{spec.name}: {p}" for p in read_entry(app_dir, base).problems]
                errors += lint_errors + schema_errors + crd_errors + kustomize_errors + catalog_errors
                warnings += lint_warnings + crd_notes
        summary = f"{len(files)} file(s) in 2 sample apps (shared namespace, own namespace)"
        return CheckResult.from_findings(self.name, summary, errors, warnings, len(files))


# The app checks live in apps.py; registered here so this file states the whole order: files first, then apps.
register(AppAnnotationsCheck)
register(AppNamespaceQuotaCheck)

# Part 2 of the rendered-tree checks (CEL policies, pod budget, cross-object consistency), after the schemas.
from fleet.validate.budget import PodBudgetCheck  # noqa: E402  (kept beside its registration)
from fleet.validate.consistency import ConsistencyCheck  # noqa: E402
from fleet.validate.policies import AdmissionPoliciesCheck  # noqa: E402

register(AdmissionPoliciesCheck)
register(PodBudgetCheck)
register(ConsistencyCheck)

# Outside k8s/ (#13): Terraform under infrastructure/, the image and compose, the GitHub workflows. Each module lists
# its checks in CHECKS, in the order they run.
from fleet.validate import container, terraform, workflows  # noqa: E402

for _module in (terraform, container, workflows):
    for _check in _module.CHECKS:
        register(_check)

# Where the two trees meet: the names cluster-vars gives Flux are the ones Terraform creates.
# and every AWS secret the clusters' ExternalSecrets read is one Terraform creates.
from fleet.validate.platform_secrets import PlatformSecretsCheck  # noqa: E402
from fleet.validate.platform_vars import ClusterVarsTerraformCheck  # noqa: E402

register(ClusterVarsTerraformCheck)
register(PlatformSecretsCheck)

# checkov last: its own venv (checkovrun.py) and the slowest start; everything cheaper has reported by then.
from fleet.validate.checkovrun import CheckovCheck  # noqa: E402

register(CheckovCheck)
