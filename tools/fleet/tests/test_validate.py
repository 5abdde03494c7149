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
    assert list(by_name(data)) == ["yamllint", "k8s-schema", "crd-structure", "kustomize-resources", "new-app-output"]


def test_an_empty_repository_passes(tmp_path: Path) -> None:
    code, data = validate(tmp_path)  # no k8s/, no .yamllint.yaml: the fallback config applies
    assert code == 0
    assert by_name(data)["new-app-output"]["ok"] is True


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
    code, data = validate(root)
    assert code == 0, json.dumps(data, indent=1)
    checks = by_name(data)
    assert "1 object(s)" in checks["k8s-schema"]["summary"]  # the Deployment
    assert "3 custom resource(s) deferred" in checks["k8s-schema"]["summary"]
    assert checks["crd-structure"]["summary"] == "3 custom resource(s)"


def test_unknown_field_fails_the_strict_schema_check(tmp_path: Path) -> None:
    root = make_repo(
        tmp_path, {"web.yaml": DEPLOYMENT.replace("image: web:1.0.0", "image: web:1.0.0\n          imagePolicy: x")}
    )
    code, data = validate(root)
    assert code == exits.FINDINGS
    errors = by_name(data)["k8s-schema"]["errors"]
    assert len(errors) == 1
    assert "Deployment/web" in errors[0]
    assert "spec.template.spec.containers.0" in errors[0]
    assert "imagePolicy" in errors[0]
    root = make_repo(tmp_path / "half", {"half.yaml": "kind: ConfigMap\nmetadata:\n  name: x\n"})
    code, data = validate(root, "--check", "k8s-schema")
    assert code == exits.FINDINGS
    assert by_name(data)["k8s-schema"]["errors"] == [
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
    assert len(crd["errors"]) == 3
    assert any("no structural rules for gateway.networking.k8s.io/Gateway" in w for w in crd["warnings"])


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
    assert [(r.name, r.ok) for r in results] == [("boom", False), ("yamllint", True)]
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
