"""The rendering pipeline (render.py) and the checks on its output: k8s-present, kustomize-build, k8s-schema,
crd-schema. Each check has a broken fixture tree under fixtures/validate/render/ that must fail, naming the fault,
and the good tree that passes. Real tools throughout: /usr/bin/kubectl, kubernetes-validate, node."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import typer
from fleet import exits
from fleet.validate import validate_command
from fleet.validate.crdschema import schema_errors, strict_schema
from fleet.validate.render import (
    RenderTarget,
    cluster_vars,
    render,
    render_all,
    render_targets,
    secret_sample_vars,
    substitute,
)
from typer.testing import CliRunner

FIXTURES = Path(__file__).parent / "fixtures" / "validate" / "render"
RENDER_CHECKS = ["k8s-present", "kustomize-build", "k8s-schema", "crd-schema"]
runner = CliRunner()
cli = typer.Typer()
cli.command()(validate_command)


def validate(root: Path, *checks: str) -> tuple[int, dict[str, dict]]:
    args = ["--root", str(root), "--json", *[a for c in checks for a in ("--check", c)]]
    result = runner.invoke(cli, args)
    data = json.loads(result.stdout)
    return result.exit_code, {c["name"]: c for c in data["checks"]}


def test_substitution_follows_flux_postbuild() -> None:
    text, missing = substitute("a: ${A}\nb: ${B:=two}\nc: $${C}\nd: ${D}\ne: $E\n", {"A": "one"})
    assert text == "a: one\nb: two\nc: ${C}\nd: ${D}\ne: $E\n"  # $E: Flux substitutes only the ${} form
    assert missing == ["D"]
    assert substitute("f: ${F:-x}\n", {"F": "1"})[1] == ["${F:-x} (unsupported syntax)"]


def test_targets_cover_overlays_flux_paths_and_local(tmp_path: Path) -> None:
    root = tmp_path
    shutil.copytree(FIXTURES / "good", root, dirs_exist_ok=True)
    (root / "k8s" / "infrastructure" / "local" / "configs").mkdir(parents=True)
    (root / "k8s" / "applications" / "production").mkdir()
    targets = render_targets(root)
    assert [(t.rel, t.cluster, t.origin) for t in targets] == [
        ("k8s/applications/production", None, "overlay"),  # no k8s/clusters/production: no variables
        ("k8s/applications/staging", "staging", "flux staging/apps"),  # the overlay and the Flux path, once
        ("k8s/infrastructure/local/configs", None, "local"),
    ]
    assert dict(targets[1].inline_vars) == {"TEAM": "platform"}  # postBuild.substitute


def test_render_returns_typed_substituted_objects() -> None:
    root = FIXTURES / "good"
    (rendered,) = render_all(root)
    assert rendered.ok, rendered.errors
    kinds = {(o.kind, o.api_version, o.name, o.namespace) for o in rendered.objects}
    assert ("Deployment", "apps/v1", "web", "applications") in kinds
    assert ("Canary", "flagger.app/v1beta1", "web", "applications") in kinds
    deploy = next(o for o in rendered.objects if o.kind == "Deployment")
    assert deploy.target.cluster == "staging"
    container = deploy.doc["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == "123456789012.dkr.ecr.eu-west-2.amazonaws.com/web:1.0.0"
    env = {e["name"]: e["value"] for e in container["env"]}
    assert env == {"ENVIRONMENT": "staging", "LOG_LEVEL": "info", "TEMPLATE": "${NOT_FLUX}"}
    assert deploy.doc["metadata"]["labels"]["team"] == "platform"
    assert cluster_vars(root, "staging")["ENVIRONMENT"] == "staging"
    assert render_all(root) is render_all(root)  # cached within a run


def test_a_missing_directory_is_an_error(tmp_path: Path) -> None:
    missing = render(RenderTarget(tmp_path, "k8s/applications/nope", None, "overlay"), {})
    assert missing.errors == ["k8s/applications/nope (cluster none) (overlay): no such directory"]


def test_the_good_tree_passes_every_render_check() -> None:
    code, checks = validate(FIXTURES / "good", *RENDER_CHECKS)
    assert code == 0, json.dumps(checks, indent=1)
    assert [checks[n]["status"] for n in RENDER_CHECKS] == ["pass"] * 4
    assert checks["k8s-schema"]["summary"].startswith("1 rendered object(s) against Kubernetes 1.35.0")
    assert checks["crd-schema"]["summary"] == "3 custom resource(s)"


def test_a_missing_or_empty_k8s_tree_fails(tmp_path: Path) -> None:
    for root in (tmp_path, FIXTURES / "empty"):
        code, checks = validate(root, "k8s-present")
        assert code == exits.FINDINGS
        assert checks["k8s-present"]["status"] == "fail"
    assert validate(tmp_path, "k8s-present")[1]["k8s-present"]["errors"] == [f"{tmp_path / 'k8s'}: missing"]
    assert validate(FIXTURES / "empty", "k8s-present")[1]["k8s-present"]["errors"][0].endswith("empty (no YAML files)")


def test_a_build_failure_fails_kustomize_build() -> None:
    code, checks = validate(FIXTURES / "broken-build", "kustomize-build")
    assert code == exits.FINDINGS
    (error,) = checks["kustomize-build"]["errors"]
    assert error.startswith("k8s/applications/staging (cluster staging) (flux staging/apps): kustomize build failed")
    assert "missing.yaml" in error


def test_an_unset_variable_fails_kustomize_build_naming_it() -> None:
    code, checks = validate(FIXTURES / "broken-vars", "kustomize-build")
    assert code == exits.FINDINGS
    assert checks["kustomize-build"]["errors"] == [
        "k8s/applications/staging (cluster staging): Deployment web: unset variable(s) with no default: ENVIRONMNT"
    ]


def test_an_unknown_field_in_a_rendered_builtin_fails_k8s_schema() -> None:
    code, checks = validate(FIXTURES / "broken-schema", "k8s-schema")
    assert code == exits.FINDINGS
    (error,) = checks["k8s-schema"]["errors"]
    assert error.startswith("k8s/applications/staging (cluster staging) Deployment applications/web:")
    assert "'imagePolicy' was unexpected" in error


def test_typos_in_custom_resources_fail_crd_schema() -> None:
    """npm models (HelmRelease, ServiceMonitor) and the repository's Flagger CRD (Canary) alike."""
    code, checks = validate(FIXTURES / "broken-crd", "crd-schema")
    assert code == exits.FINDINGS
    errors = checks["crd-schema"]["errors"]
    assert len(errors) == 3, errors
    assert "Canary applications/web: spec.analysis: Additional properties are not allowed ('stepWeigth'" in errors[0]
    assert "HelmRelease applications/cache: spec.intervall: unknown field" in errors[1]
    assert "ServiceMonitor applications/web: spec.endpoints[0].intervl: unknown field" in errors[2]


def test_crd_schema_reports_wrong_types_missing_fields_and_unknown_kinds(tmp_path: Path) -> None:
    shutil.copytree(FIXTURES / "good", tmp_path, dirs_exist_ok=True)
    base = tmp_path / "k8s" / "applications" / "base" / "web"
    hr = base / "helmrelease.yaml"
    hr.write_text(hr.read_text().replace("  interval: 30m\n", ""))  # required by the HelmRelease CRD
    canary = base / "canary.yaml"
    canary.write_text(canary.read_text().replace("threshold: 5", "threshold: five"))
    (base / "proxy.yaml").write_text("apiVersion: example.com/v1\nkind: Widget\nmetadata:\n  name: w\n")
    (base / "kustomization.yaml").write_text((base / "kustomization.yaml").read_text() + "  - proxy.yaml\n")
    errors = validate(tmp_path, "crd-schema")[1]["crd-schema"]["errors"]
    text = "\n".join(errors)
    assert "Canary applications/web: spec.analysis.threshold: 'five' is not of type 'number'" in text
    assert "HelmRelease applications/cache: spec: must have required property interval" in text
    assert "Widget applications/w: no CRD schema for example.com/v1 Widget" in text


def test_strict_schema_keeps_free_form_parts_free() -> None:
    schema = strict_schema(
        {
            "type": "object",
            "properties": {
                "known": {"type": "string"},
                "free": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
                "port": {"x-kubernetes-int-or-string": True},
                "maybe": {"type": "string", "nullable": True},
            },
        }
    )
    assert schema_errors(schema, {"known": "x", "free": {"a": 1}, "port": 80, "maybe": None}) == []
    assert schema_errors(schema, {"port": "http"}) == []
    assert schema_errors(schema, {"knwon": "x"}) == [
        "(root): Additional properties are not allowed ('knwon' was unexpected)"
    ]


@pytest.mark.parametrize("fixture", ["broken-build", "broken-vars", "broken-schema", "broken-crd", "broken-checkov"])
def test_every_broken_fixture_fails_the_whole_command(fixture: str) -> None:
    assert validate(FIXTURES / fixture)[0] == exits.FINDINGS


def test_checkov_passes_the_hardened_fixture_with_reasoned_skips() -> None:
    code, checks = validate(FIXTURES / "good", "checkov")
    assert code == 0, json.dumps(checks, indent=1)
    assert checks["checkov"]["summary"].endswith("0 failed, 3 skipped by k8s/.checkov.yaml")


def test_checkov_fails_a_finding_and_a_skip_without_a_reason() -> None:
    code, checks = validate(FIXTURES / "broken-checkov", "checkov")
    assert code == exits.FINDINGS
    assert checks["checkov"]["errors"] == [
        "k8s/.checkov.yaml: skip[3] CKV_K8S_38: needs a written reason",
        "CKV_K8S_20 Deployment.applications.web: Containers should not run with allowPrivilegeEscalation "
        "(in k8s/applications/staging (cluster staging)); fix it or skip it with a reason: k8s/.checkov.yaml or a "
        "checkov.io/skip1 annotation on the object",
    ]


def test_secret_substitutions_get_samples_only_when_an_external_secret_makes_the_secret(tmp_path: Path) -> None:
    k8s = tmp_path / "k8s"
    k8s.mkdir()
    (k8s / "token.yaml").write_text(
        "apiVersion: external-secrets.io/v1\nkind: ExternalSecret\n"
        "metadata: {name: hook-token, namespace: flux-system}\n"
        "spec:\n  target: {name: hook}\n  data:\n    - {secretKey: HOOK_TOKEN, remoteRef: {key: a/b}}\n"
        "---\napiVersion: external-secrets.io/v1\nkind: ExternalSecret\n"
        "metadata: {name: elsewhere, namespace: applications}\n"
        "spec:\n  data:\n    - {secretKey: APP_ONLY, remoteRef: {key: a/c}}\n",
        encoding="utf-8",
    )
    refs = [{"kind": "ConfigMap", "name": "cluster-vars"}, {"kind": "Secret", "name": "hook"}]
    assert secret_sample_vars(k8s, refs) == {"HOOK_TOKEN": "sample-secret-value"}
    # A Secret no ExternalSecret in flux-system produces gives nothing, so its ${VAR}s stay unset and fail the build.
    assert secret_sample_vars(k8s, [{"kind": "Secret", "name": "elsewhere"}]) == {}
    assert secret_sample_vars(k8s, None) == {}
