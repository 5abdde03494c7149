"""`fleet new-app`: the scaffold's content, its refusals, and that it passes the platform's checks."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
import yaml
from fleet import exits
from fleet.newapp import new_app_command
from fleet.newapp.render import RESOURCES, AppSpec, problems, render
from fleet.validate.yamlfiles import crd_findings, kustomize_findings, schema_findings, yamllint_findings
from typer.testing import CliRunner

REPO_ROOT = Path(__file__).resolve().parents[3]
runner = CliRunner()
cli = typer.Typer()
cli.command()(new_app_command)


def flat(text: str) -> str:
    """Rich wraps stderr at the terminal width; compare messages with whitespace collapsed."""
    return " ".join(text.split())


def objects(files: dict[str, str]) -> dict[str, dict]:
    return {yaml.safe_load(text)["kind"]: yaml.safe_load(text) for text in files.values()}


def test_scaffold_writes_every_manifest(tmp_path: Path) -> None:
    result = runner.invoke(cli, ["shop", "--root", str(tmp_path), "--port", "9000", "--image", "ghcr.io/x/shop:1.2.3",
                                 "--json"])  # fmt: skip
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["directory"] == str(tmp_path / "shop")
    assert sorted(data["files"]) == sorted([*RESOURCES, "kustomization.yaml"])
    kustomization = yaml.safe_load((tmp_path / "shop" / "kustomization.yaml").read_text())
    assert kustomization["resources"] == list(RESOURCES)
    assert kustomization["namespace"] == "applications"


def test_deployment_is_locked_down() -> None:
    kinds = objects(render(AppSpec("shop", port=9000, image="ghcr.io/x/shop:1.2.3")))
    assert set(kinds) >= {
        "Deployment", "Service", "HorizontalPodAutoscaler", "PodDisruptionBudget", "NetworkPolicy",
        "ServiceMonitor", "ResourceQuota", "LimitRange", "Kustomization",
    }  # fmt: skip
    deployment = kinds["Deployment"]
    assert "replicas" not in deployment["spec"]  # the HPA owns the replica count
    pod = deployment["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault"
    container = pod["containers"][0]
    assert container["image"] == "ghcr.io/x/shop:1.2.3"
    assert container["ports"][0]["containerPort"] == 9000
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    assert container["securityContext"]["capabilities"]["drop"] == ["ALL"]
    assert set(container["resources"]) == {"requests", "limits"}
    assert container["readinessProbe"]["httpGet"]["path"] == "/health"
    assert container["livenessProbe"]["httpGet"]["port"] == "http"
    assert kinds["HorizontalPodAutoscaler"]["apiVersion"] == "autoscaling/v2"
    assert kinds["PodDisruptionBudget"]["spec"]["maxUnavailable"] == 1  # never blocks a drain
    assert kinds["ServiceMonitor"]["spec"]["endpoints"][0]["port"] == "http"
    assert kinds["ResourceQuota"]["spec"]["hard"]["pods"] == "4"  # maxReplicas 3 + 1 surge pod
    assert kinds["ResourceQuota"]["spec"]["hard"]["limits.cpu"] == "2"  # 4 x 500m


def test_output_passes_the_platform_checks(tmp_path: Path) -> None:
    runner.invoke(cli, ["shop", "--root", str(tmp_path)])
    files = sorted((tmp_path / "shop").iterdir())
    errors, warnings = yamllint_findings(files, REPO_ROOT / ".yamllint.yaml", tmp_path)
    assert (errors, warnings) == ([], [])
    schema_errors, _, checked, deferred = schema_findings(files, tmp_path, "1.34.0")
    assert schema_errors == []
    assert (checked, deferred) == (7, 1)  # the ServiceMonitor is a custom resource
    crd_errors, notes, crds = crd_findings(files, tmp_path, "1.34.0")
    assert (crd_errors, notes, crds) == ([], [], 1)
    assert kustomize_findings(tmp_path / "shop", tmp_path) == ([], 1)


def test_refuses_to_overwrite(tmp_path: Path) -> None:
    assert runner.invoke(cli, ["shop", "--root", str(tmp_path)]).exit_code == 0
    marker = tmp_path / "shop" / "deployment.yaml"
    marker.write_text("# edited by hand\n")
    result = runner.invoke(cli, ["shop", "--root", str(tmp_path)])
    assert result.exit_code == exits.REFUSED
    assert "already exists; refusing to overwrite" in flat(result.stderr)
    assert marker.read_text() == "# edited by hand\n"


@pytest.mark.parametrize("name", ["Shop", "1shop", "shop-", "-shop", "sh_op", "a" * 64, ""])
def test_refuses_invalid_names_and_says_the_rule(tmp_path: Path, name: str) -> None:
    result = runner.invoke(cli, ["--root", str(tmp_path), "--", name])  # "--": "-shop" is not an option
    assert result.exit_code == exits.BAD_INPUT
    assert "must be a DNS-1035 label" in flat(result.stderr)
    assert not any(tmp_path.iterdir())  # nothing written


def test_accepts_edge_names_and_rejects_other_bad_input() -> None:
    assert problems(AppSpec("a" * 63)) == []
    assert problems(AppSpec("a")) == []
    assert any("port" in p for p in problems(AppSpec("shop", port=80)))
    assert any("namespace" in p for p in problems(AppSpec("shop", namespace="Apps")))
    assert any("image" in p for p in problems(AppSpec("shop", image="bad image")))
    assert any("replicas" in p for p in problems(AppSpec("shop", min_replicas=4, max_replicas=3)))


def test_plain_output_lists_next_steps(tmp_path: Path) -> None:
    result = runner.invoke(cli, ["shop", "--root", str(tmp_path)], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    assert "created" in result.stdout
    assert "fleet validate" in result.stdout
