"""`fleet validate`: the check registry, each check catching what it should, and the repository passing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from fleet import exits
from fleet.validate import base as registry
from fleet.validate import validate_command
from fleet.validate.base import Check, CheckResult, Context, register, run_checks
from typer.testing import CliRunner

REPO_ROOT = Path(__file__).resolve().parents[3]
APPS_FIXTURES = Path(__file__).parent / "fixtures" / "apps"
ALL_CHECKS = [
    "k8s-present", "yamllint", "kustomize-resources", "kustomize-build", "k8s-schema", "crd-schema",
    "crd-structure", "new-app-output", "app-annotations", "app-namespace-quota", "admission-policies",
    "pod-budget", "consistency",
    "terraform-fmt", "terraform-invariants", "terraform-module-inputs", "checkov-terraform",
    "hadolint", "dockerfile-invariants", "compose", "writable-paths",
    "actionlint", "zizmor", "workflow-invariants", "dependabot-coverage", "release-versions",
    "cluster-vars-terraform", "platform-secrets", "checkov",
]  # fmt: skip
FILE_CHECKS = ["yamllint", "kustomize-resources", "kustomize-build", "k8s-schema", "crd-schema", "crd-structure"]
runner = CliRunner()
cli = typer.Typer()
cli.command()(validate_command)

DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  selector:
    matchLabels:
      app: web
  template:
    metadata:
      labels:
        app: web
    spec:
      containers:
        - name: web
          image: web:1.0.0
"""
SERVICE_MONITOR = """\
apiVersion: monitoring.coreos.com/v1
kind: ServiceMonitor
metadata:
  name: web
spec:
  selector:
    matchLabels:
      app: web
  endpoints:
    - port: http
"""
FLUX = """\
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata:
  name: apps
  namespace: flux-system
spec:
  interval: 10m
  path: ./k8s/apps
  prune: true
  sourceRef:
    kind: GitRepository
    name: flux-system
---
apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata:
  name: podinfo
spec:
  interval: 30m
  chart:
    spec:
      chart: podinfo
      sourceRef:
        kind: HelmRepository
        name: podinfo
"""


def make_repo(tmp_path: Path, files: dict[str, str]) -> Path:
    tmp_path.mkdir(parents=True, exist_ok=True)
    (tmp_path / ".yamllint.yaml").write_text((REPO_ROOT / ".yamllint.yaml").read_text())
    for name, text in files.items():
        path = tmp_path / "k8s" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return tmp_path


def validate(root: Path, *args: str) -> tuple[int, dict]:
    result = runner.invoke(cli, ["--root", str(root), *args, "--json"])
    return result.exit_code, json.loads(result.stdout) if result.stdout.strip() else {}


def by_name(data: dict) -> dict[str, dict]:
    return {c["name"]: c for c in data["checks"]}


def test_the_repository_passes() -> None:
    code, data = validate(REPO_ROOT)
    assert code == 0, json.dumps(data, indent=1)
    assert data["ok"] is True
    assert list(by_name(data)) == ALL_CHECKS


def test_an_empty_repository_fails_and_says_what_had_nothing_to_check(tmp_path: Path) -> None:
    """No k8s/ at all is an error (k8s-present), not "nothing to check"; the others still say NOTHING."""
    code, data = validate(tmp_path)  # no k8s/, no .yamllint.yaml: the fallback config applies
    assert code == exits.FINDINGS
    checks = by_name(data)
    assert checks["k8s-present"]["status"] == "fail"
    assert checks["new-app-output"]["status"] == "pass"
    assert checks["new-app-output"]["checked"] > 0
    nothing = [name for name in ALL_CHECKS if name not in ("k8s-present", "new-app-output")]
    assert [c["name"] for c in data["checks"] if c["status"] == "nothing"] == nothing
    assert data["outcome"] == "failed"
    result = runner.invoke(cli, ["--root", str(tmp_path)], env={"COLUMNS": "300"})
    assert result.exit_code == exits.FINDINGS
    assert "all checks passed" not in result.stdout
    assert "NOTHING" in result.stdout
    assert f"FAILED: k8s-present; {len(nothing)} had nothing to check: yamllint" in result.stdout


def test_nothing_to_check_is_not_a_pass(tmp_path: Path) -> None:
    """Finding 10: `fleet validate` said "all checks passed" when there was nothing to check."""
    result = runner.invoke(cli, ["--root", str(tmp_path), "--check", "yamllint", "--check", "k8s-schema"],
                           env={"COLUMNS": "300"})  # fmt: skip
    assert result.exit_code == exits.FINDINGS
    assert "all checks passed" not in result.stdout
    assert f"nothing to check: no check found anything to look at under {tmp_path.resolve()}" in result.stdout
    code, data = validate(tmp_path, "--check", "yamllint")
    assert code == exits.FINDINGS
    assert (data["ok"], data["outcome"], data["checked_something"]) == (False, "nothing-to-check", 0)
    assert by_name(data)["yamllint"]["status"] == "nothing"
    assert by_name(data)["yamllint"]["ok"] is True  # nothing wrong was found; nothing was found at all


def test_a_check_that_looked_at_something_passes(tmp_path: Path) -> None:
    root = make_repo(tmp_path, {"web.yaml": DEPLOYMENT})
    code, data = validate(root, "--check", "yamllint", "--check", "crd-structure")
    assert code == 0
    assert [(c["name"], c["status"], c["checked"]) for c in data["checks"]] == [
        ("yamllint", "pass", 1),
        ("crd-structure", "nothing", 0),  # a Deployment is not a custom resource
    ]


def test_good_manifests_pass(tmp_path: Path) -> None:
    root = make_repo(
        tmp_path,
        {
            "apps/web/deployment.yaml": DEPLOYMENT,
            "apps/web/servicemonitor.yaml": SERVICE_MONITOR,
            "apps/web/kustomization.yaml": "resources:\n  - deployment.yaml\n  - servicemonitor.yaml\n",
            "apps/web/values.yaml": "replicaCount: 2\n",  # plain data, not an object: skipped
            "clusters/staging/flux.yaml": FLUX,
            "charts/demo/Chart.yaml": "apiVersion: v2\nname: demo\nversion: 0.1.0\n",
            "charts/demo/templates/deploy.yaml": "{{- if .Values.enabled }}\nkind: {{ .Values.kind }}\n",
        },
    )
    code, data = validate(root, *[a for c in FILE_CHECKS for a in ("--check", c)])
    assert code == 0, json.dumps(data, indent=1)
    checks = by_name(data)
    # Rendered: Flux's generated kustomization for ./k8s/apps takes apps/web as a whole (values.yaml is not listed)
    assert checks["kustomize-build"]["summary"] == "1 target(s), 2 object(s)"
    assert "1 rendered object(s)" in checks["k8s-schema"]["summary"]  # the Deployment
    assert "1 custom resource(s) deferred" in checks["k8s-schema"]["summary"]  # the ServiceMonitor
    assert checks["crd-schema"]["summary"] == "1 custom resource(s)"
    assert checks["crd-structure"]["summary"] == "3 custom resource(s)"  # every file, rendered or not


def test_unknown_field_fails_the_strict_schema_check(tmp_path: Path) -> None:
    bad = DEPLOYMENT.replace("image: web:1.0.0", "image: web:1.0.0\n          imagePolicy: x")
    root = make_repo(tmp_path, {"applications/staging/web.yaml": bad})
    code, data = validate(root, "--check", "k8s-schema")
    assert code == exits.FINDINGS
    errors = by_name(data)["k8s-schema"]["errors"]
    assert len(errors) == 1
    assert "k8s/applications/staging (cluster none) Deployment web" in errors[0]
    assert "spec.template.spec.containers.0" in errors[0]
    assert "imagePolicy" in errors[0]
    root = make_repo(tmp_path / "half", {"half.yaml": "kind: ConfigMap\nmetadata:\n  name: x\n"})
    code, data = validate(root, "--check", "crd-structure")
    assert code == exits.FINDINGS
    assert by_name(data)["crd-structure"]["errors"] == [
        "k8s/half.yaml#0: a Kubernetes object needs both apiVersion and kind"
    ]


def test_custom_resources_get_structural_checks(tmp_path: Path) -> None:
    root = make_repo(
        tmp_path,
        {
            "sm.yaml": SERVICE_MONITOR.replace("  endpoints:\n    - port: http\n", ""),
            "flux.yaml": FLUX.replace("  prune: true\n", ""),
            "typo.yaml": DEPLOYMENT.replace("kind: Deployment", "kind: Deploymnet"),
            "gateway.yaml": "apiVersion: gateway.networking.k8s.io/v1\nkind: Gateway\nmetadata:\n  name: gw\n",
        },
    )
    code, data = validate(root, "--check", "crd-structure")
    assert code == exits.FINDINGS
    crd = by_name(data)["crd-structure"]
    text = "\n".join(crd["errors"])
    assert "ServiceMonitor/web: spec.endpoints must be a non-empty list" in text
    assert "Kustomization/apps: spec.prune is required" in text
    assert "no kind 'Deploymnet' in built-in API 'apps/v1'" in text
    assert len(crd["errors"]) == 3  # the Gateway has no structural rule: crd-schema checks it in full, rendered


def test_yamllint_and_kustomize_references(tmp_path: Path) -> None:
    root = make_repo(
        tmp_path,
        {
            "bad.yaml": "a: 1\na: 2\n",  # duplicate key: a yamllint error
            "long.yaml": "key: " + "x" * 170 + "\n",  # long line: only a warning
            "app/kustomization.yaml": "resources:\n  - missing.yaml\n  - https://example.com/x.yaml\n",
        },
    )
    code, data = validate(root)
    assert code == exits.FINDINGS
    checks = by_name(data)
    assert any("duplication of key" in e for e in checks["yamllint"]["errors"])
    assert any("line too long" in w for w in checks["yamllint"]["warnings"])
    assert checks["kustomize-resources"]["errors"] == [
        "k8s/app/kustomization.yaml: resource missing.yaml does not exist"
    ]
    assert checks["k8s-schema"]["ok"] is True


def test_registry_runs_added_checks_and_survives_a_crash(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(registry, "_REGISTRY", dict(registry._REGISTRY))

    @register
    class Boom(Check):
        name = "boom"

        def run(self, ctx: Context) -> CheckResult:
            raise RuntimeError("kaput")

    results = run_checks(Context(tmp_path), ["boom", "yamllint"])
    assert [(r.name, r.ok, r.status.value) for r in results] == [("boom", False, "fail"), ("yamllint", True, "nothing")]
    assert results[0].errors == ["RuntimeError: kaput"]
    with pytest.raises(ValueError, match="unique name"):
        register(Boom)
    with pytest.raises(KeyError, match="unknown check"):
        run_checks(Context(tmp_path), ["nope"])


def test_bad_input_exits_3(tmp_path: Path) -> None:
    assert runner.invoke(cli, ["--root", str(tmp_path / "missing")]).exit_code == exits.BAD_INPUT
    assert runner.invoke(cli, ["--root", str(tmp_path), "--k8s-version", "1.99.0"]).exit_code == exits.BAD_INPUT
    assert runner.invoke(cli, ["--root", str(tmp_path), "--check", "nope"]).exit_code == exits.BAD_INPUT


def test_list_and_plain_output(tmp_path: Path) -> None:
    listing = json.loads(runner.invoke(cli, ["--list", "--json"]).stdout)
    assert {c["name"] for c in listing} >= {"yamllint", "k8s-schema", "crd-structure", "new-app-output"}
    root = make_repo(tmp_path, {"bad.yaml": "a: 1\na: 2\n"})
    result = runner.invoke(cli, ["--root", str(root)], env={"COLUMNS": "200"})
    assert result.exit_code == exits.FINDINGS
    assert "FAIL" in result.stdout
    assert "FAILED: yamllint" in result.stdout


def test_app_annotations_pass_on_the_good_fixture() -> None:
    code, data = validate(APPS_FIXTURES / "good", "--check", "app-annotations", "--check", "app-namespace-quota")
    assert code == 0, json.dumps(data, indent=1)
    checks = by_name(data)
    assert (checks["app-annotations"]["status"], checks["app-annotations"]["checked"]) == ("pass", 2)
    assert (checks["app-namespace-quota"]["status"], checks["app-namespace-quota"]["checked"]) == ("pass", 2)
    # and every other check too, but checkov: this tree has no k8s/.checkov.yaml for the platform's reasoned skips
    others = [a for name in ALL_CHECKS if name != "checkov" for a in ("--check", name)]
    assert validate(APPS_FIXTURES / "good", *others)[0] == 0


def test_app_annotations_fail_naming_the_app_and_the_annotation() -> None:
    code, data = validate(APPS_FIXTURES / "broken", "--check", "app-annotations")
    assert code == exits.FINDINGS
    errors = by_name(data)["app-annotations"]["errors"]
    assert errors[:2] == [
        "app cart (k8s/applications/base/cart): missing annotation fleet.platform/owner (new-app sets it with --owner)",
        "app cart (k8s/applications/base/cart): annotation fleet.platform/runbook 'ftp://runbooks.example.com/cart': "
        "must be an http:// or https:// URL with a host",
    ]
    legacy = [e for e in errors if e.startswith("app legacy ")]  # every required one; dashboard is optional
    assert [e.split("annotation ")[1].split(" ")[0] for e in legacy] == [
        "fleet.platform/owner", "fleet.platform/tier", "fleet.platform/slo", "fleet.platform/runbook",
        "fleet.platform/repo",
    ]  # fmt: skip
    assert not any(e.startswith("app search ") for e in errors)


def write_app(root: Path, app: str, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / "k8s" / "applications" / "base" / app / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


QUOTA = """\
apiVersion: v1
kind: ResourceQuota
metadata:
  name: {name}
  namespace: applications
spec:
  hard:
    pods: "{pods}"
"""
HPA = """\
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata:
  name: {name}
  namespace: applications
spec:
  scaleTargetRef:
    apiVersion: apps/v1
    kind: Deployment
    name: {name}
  maxReplicas: {max}
"""


def test_a_quota_written_into_the_shared_namespace_fails(tmp_path: Path) -> None:
    """Finding 9 as the old new-app left it: shop's `pods: "4"` quota in `applications`, LoadHarness scaling to 8."""
    shop = {"quota.yaml": QUOTA.format(name="shop", pods=4), "hpa.yaml": HPA.format(name="shop", max=3)}
    write_app(tmp_path, "shop", shop)
    write_app(tmp_path, "load-harness", {"hpa.yaml": HPA.format(name="load-harness", max=8)})
    code, data = validate(tmp_path, "--check", "app-namespace-quota")
    assert code == exits.FINDINGS
    errors = by_name(data)["app-namespace-quota"]["errors"]
    assert errors == [
        "app shop (k8s/applications/base/shop/quota.yaml): ResourceQuota/shop caps the whole namespace applications, "
        "which load-harness share(s); leave it to the namespace's owner or give the app its own namespace "
        "(new-app --own-namespace)",
        "k8s/applications/base/shop/quota.yaml: ResourceQuota/shop allows 4 pod(s) in namespace applications, but its "
        "HPAs scale to 13 (load-harness 8+1, shop 3+1); raise the quota or lower maxReplicas",
    ]


def test_a_namespace_owners_quota_must_fit_every_hpa(tmp_path: Path) -> None:
    write_app(tmp_path, "load-harness", {"hpa.yaml": HPA.format(name="load-harness", max=8)})
    owner_quota = tmp_path / "k8s" / "infrastructure" / "configs" / "applications-quota.yaml"
    owner_quota.parent.mkdir(parents=True)
    owner_quota.write_text(QUOTA.format(name="applications", pods=9))
    assert validate(tmp_path, "--check", "app-namespace-quota")[0] == 0  # 8 + 1 surge fits 9
    owner_quota.write_text(QUOTA.format(name="applications", pods=8))
    code, data = validate(tmp_path, "--check", "app-namespace-quota")
    assert code == exits.FINDINGS
    assert by_name(data)["app-namespace-quota"]["errors"] == [
        "k8s/infrastructure/configs/applications-quota.yaml: ResourceQuota/applications allows 8 pod(s) in namespace "
        "applications, but its HPAs scale to 9 (load-harness 8+1); raise the quota or lower maxReplicas"
    ]
