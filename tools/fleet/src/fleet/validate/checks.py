"""The checks `fleet validate` runs today, in order. Each is registered on import."""

from __future__ import annotations

import tempfile
from pathlib import Path

from fleet.k8s_yaml import iter_yaml_files
from fleet.newapp.render import AppSpec, scaffold
from fleet.validate.base import Check, CheckResult, Context, register
from fleet.validate.yamlfiles import crd_findings, kustomize_findings, schema_findings, yamllint_findings


def _k8s_files(ctx: Context) -> list[Path]:
    return list(iter_yaml_files(ctx.k8s_dir)) if ctx.k8s_dir.is_dir() else []


@register
class YamllintCheck(Check):
    name = "yamllint"
    description = "yamllint with the repository's .yamllint.yaml over YAML under k8s/"

    def run(self, ctx: Context) -> CheckResult:
        files = _k8s_files(ctx)
        errors, warnings = yamllint_findings(files, ctx.yamllint_config, ctx.root)
        return CheckResult.from_findings(self.name, f"{len(files)} file(s)", errors, warnings)


@register
class KubernetesSchemaCheck(Check):
    name = "k8s-schema"
    description = "kubernetes-validate --strict on built-in kinds under k8s/ (kustomization.yaml skipped)"

    def run(self, ctx: Context) -> CheckResult:
        errors, warnings, checked, deferred = schema_findings(_k8s_files(ctx), ctx.root, ctx.k8s_version)
        summary = f"{checked} object(s) against Kubernetes {ctx.k8s_version}, {deferred} custom resource(s) deferred"
        return CheckResult.from_findings(self.name, summary, errors, warnings)


@register
class CrdStructureCheck(Check):
    name = "crd-structure"
    description = "apiVersion/kind/metadata.name and required spec fields of custom resources under k8s/"

    def run(self, ctx: Context) -> CheckResult:
        errors, warnings, checked = crd_findings(_k8s_files(ctx), ctx.root, ctx.k8s_version)
        return CheckResult.from_findings(self.name, f"{checked} custom resource(s)", errors, warnings)


@register
class KustomizeResourcesCheck(Check):
    name = "kustomize-resources"
    description = "every local resource a kustomization.yaml under k8s/ lists exists"

    def run(self, ctx: Context) -> CheckResult:
        if not ctx.k8s_dir.is_dir():
            return CheckResult(self.name, True, "no k8s/ directory")
        errors, count = kustomize_findings(ctx.k8s_dir, ctx.root)
        return CheckResult.from_findings(self.name, f"{count} kustomization(s)", errors, [])


@register
class NewAppOutputCheck(Check):
    name = "new-app-output"
    description = "a sample `fleet new-app` rendering passes the same file checks"

    def run(self, ctx: Context) -> CheckResult:
        with tempfile.TemporaryDirectory(prefix="fleet-new-app-") as tmp:
            base = Path(tmp)
            app_dir = scaffold(AppSpec("sample-app"), base)
            files = list(iter_yaml_files(app_dir))
            errors, warnings = yamllint_findings(files, ctx.yamllint_config, base)
            schema_errors, _, checked, _ = schema_findings(files, base, ctx.k8s_version)
            crd_errors, crd_notes, crds = crd_findings(files, base, ctx.k8s_version)
            kustomize_errors, _ = kustomize_findings(app_dir, base)
        errors += schema_errors + crd_errors + kustomize_errors
        summary = f"{len(files)} file(s): {checked} object(s) by schema, {crds} custom resource(s)"
        return CheckResult.from_findings(self.name, summary, errors, warnings + crd_notes)
