"""`fleet new-app`: the scaffold's content, its refusals, and that it passes the platform's checks."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
import yaml
from fleet import exits
from fleet.catalog.annotations import CatalogAnnotations
from fleet.newapp import new_app_command
from fleet.newapp.render import APP_RESOURCES, OWN_NAMESPACE_RESOURCES, render
from fleet.newapp.spec import AppSpec, problems
from fleet.validate.yamlfiles import crd_findings, kustomize_findings, schema_findings, yamllint_findings
from typer.testing import CliRunner

REPO_ROOT = Path(__file__).resolve().parents[3]
runner = CliRunner()
cli = typer.Typer()
cli.command()(new_app_command)

DIGEST = "sha256:" + "ab" * 32
IMAGE = f"ghcr.io/x/shop:1.2.3@{DIGEST}"
CATALOG_ARGS = [
    "--owner", "team-shop", "--tier", "standard", "--runbook", "https://runbooks.example.com/shop",
    "--repo", "https://github.com/x/shop",
]  # fmt: skip
ANNOTATIONS = CatalogAnnotations(
    owner="team-shop", tier="standard", slo="99.5%", runbook="https://runbooks.example.com/shop",
    repo="https://github.com/x/shop",
)  # fmt: skip


def new_app(tmp_path: Path, *args: str, name: str = "shop", image: str = IMAGE) -> object:
    return runner.invoke(
        cli, ["--apps-dir", str(tmp_path), "--image", image, *CATALOG_ARGS, *args, "--", name], env={"COLUMNS": "200"}
    )


def spec(**changes: object) -> AppSpec:
    return AppSpec(**{"name": "shop", "image": IMAGE, "annotations": ANNOTATIONS, **changes})


def flat(text: str) -> str:
    """Rich wraps stderr at the terminal width; compare messages with whitespace collapsed."""
    return " ".join(text.split())


def objects(files: dict[str, str]) -> dict[str, dict]:
    return {yaml.safe_load(text)["kind"]: yaml.safe_load(text) for text in files.values()}


def test_scaffold_writes_every_manifest(tmp_path: Path) -> None:
    result = new_app(tmp_path, "--port", "9000", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["directory"] == str(tmp_path / "shop")
    assert sorted(data["files"]) == sorted([*APP_RESOURCES, "kustomization.yaml"])
    kustomization = yaml.safe_load((tmp_path / "shop" / "kustomization.yaml").read_text())
    assert kustomization["resources"] == list(APP_RESOURCES)
    assert kustomization["namespace"] == "applications"
    assert data["image"] == IMAGE


def test_deployment_is_locked_down() -> None:
    kinds = objects(render(spec(port=9000)))
    assert set(kinds) == {
        "Deployment", "Service", "HorizontalPodAutoscaler", "PodDisruptionBudget", "NetworkPolicy",
        "ServiceMonitor", "Kustomization",
    }  # fmt: skip
    deployment = kinds["Deployment"]
    assert "replicas" not in deployment["spec"]  # the HPA owns the replica count
    pod = deployment["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault"
    container = pod["containers"][0]
    assert container["image"] == IMAGE
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


def test_shared_namespace_gets_no_namespace_wide_objects(tmp_path: Path) -> None:
    """Finding 9: a `pods: "4"` ResourceQuota in the shared namespace capped LoadHarness (HPA max 8) too."""
    result = new_app(tmp_path, "--json")
    assert result.exit_code == 0, result.output
    written = {p.name for p in (tmp_path / "shop").iterdir()}
    assert not written & {"resourcequota.yaml", "limitrange.yaml", "namespace.yaml"}
    kinds = {yaml.safe_load(p.read_text())["kind"] for p in (tmp_path / "shop").iterdir()}
    assert not kinds & {"ResourceQuota", "LimitRange", "Namespace"}
    assert any("no ResourceQuota or LimitRange written" in n for n in json.loads(result.stdout)["notes"])


@pytest.mark.parametrize("max_replicas", [1, 3, 8, 20])
def test_own_namespace_quota_always_fits_the_hpa(tmp_path: Path, max_replicas: int) -> None:
    result = new_app(tmp_path, "--own-namespace", "--max-replicas", str(max_replicas), "--json")
    assert result.exit_code == 0, result.output
    app = tmp_path / "shop"
    docs = {yaml.safe_load(p.read_text())["kind"]: yaml.safe_load(p.read_text()) for p in app.iterdir()}
    assert docs["Namespace"]["metadata"]["name"] == "shop"
    assert docs["Namespace"]["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
    assert docs["Kustomization"]["namespace"] == "shop"
    assert docs["Kustomization"]["resources"][: len(OWN_NAMESPACE_RESOURCES)] == list(OWN_NAMESPACE_RESOURCES)
    hpa_max = docs["HorizontalPodAutoscaler"]["spec"]["maxReplicas"]
    quota = docs["ResourceQuota"]["spec"]["hard"]
    assert hpa_max == max_replicas
    assert int(quota["pods"]) == max_replicas + 1  # every replica plus the rollout's surge pod
    assert quota["limits.cpu"] == (
        str((max_replicas + 1) * 500 // 1000)
        if (max_replicas + 1) * 500 % 1000 == 0
        else f"{(max_replicas + 1) * 500}m"
    )
    assert all(docs[k]["metadata"]["namespace"] == "shop" for k in ("Deployment", "ResourceQuota", "LimitRange"))


def test_own_namespace_conflicts_with_namespace(tmp_path: Path) -> None:
    result = new_app(tmp_path, "--own-namespace", "--namespace", "shop-prod")
    assert result.exit_code == exits.BAD_INPUT
    assert "--own-namespace" in flat(result.stderr)
    assert "--namespace shop-prod" in flat(result.stderr)
    assert not any(tmp_path.iterdir())


@pytest.mark.parametrize(
    ("image", "reason"),
    [
        ("nginx:latest", "the tag 'latest' moves"),
        ("ghcr.io/x/shop:LATEST", "the tag 'latest' moves"),
        ("nginx", "no tag"),
        ("ghcr.io/x/shop", "no tag"),
        ("localhost:5000/shop", "no tag"),  # the registry's port is not a tag
        ("nginx@sha256:abc", "the digest must be sha256:"),
        ("nginx@md5:" + "a" * 32, "the digest must be sha256:"),
        ("bad image", "not an image reference"),
    ],
)
def test_refuses_unpinned_images(tmp_path: Path, image: str, reason: str) -> None:
    result = new_app(tmp_path, image=image)
    assert result.exit_code == exits.BAD_INPUT, result.output
    message = flat(result.stderr)
    assert f"--image {image!r}" in message
    assert reason in message
    assert not any(tmp_path.iterdir())


@pytest.mark.parametrize(
    ("image", "note"),
    [
        (f"nginx@{DIGEST}", False),
        (f"ghcr.io/x/shop:1.2.3@{DIGEST}", False),
        ("nginx:1.27.3", True),
        ("localhost:5000/shop:0.1.0", True),
    ],
)
def test_accepts_pinned_images_and_prefers_a_digest(tmp_path: Path, image: str, note: bool) -> None:
    result = new_app(tmp_path, "--json", image=image)
    assert result.exit_code == 0, result.output
    notes = json.loads(result.stdout)["notes"]
    assert any("pinned by tag only" in n for n in notes) is note
    deployment = yaml.safe_load((tmp_path / "shop" / "deployment.yaml").read_text())
    assert deployment["spec"]["template"]["spec"]["containers"][0]["image"] == image


@pytest.mark.parametrize("namespace", ["default", "kube-system", "kube-public", "kube-node-lease", "flux-system"])
def test_refuses_system_namespaces(tmp_path: Path, namespace: str) -> None:
    result = new_app(tmp_path, "--namespace", namespace)
    assert result.exit_code == exits.BAD_INPUT
    assert f"--namespace {namespace!r}: refused" in flat(result.stderr)
    assert not any(tmp_path.iterdir())


def test_refuses_a_system_namespace_as_own_namespace(tmp_path: Path) -> None:
    result = new_app(tmp_path, "--own-namespace", name="kube-shop")
    assert result.exit_code == exits.BAD_INPUT
    assert "--own-namespace 'kube-shop': refused" in flat(result.stderr)


def test_writes_catalog_annotations_on_the_deployment_only(tmp_path: Path) -> None:
    result = new_app(tmp_path, "--dashboard", "https://grafana.example.com/d/shop")
    assert result.exit_code == 0, result.output
    deployment = yaml.safe_load((tmp_path / "shop" / "deployment.yaml").read_text())
    assert deployment["metadata"]["annotations"] == {
        "fleet.platform/owner": "team-shop",
        "fleet.platform/tier": "standard",
        "fleet.platform/slo": "99.5%",  # the standard tier's default
        "fleet.platform/runbook": "https://runbooks.example.com/shop",
        "fleet.platform/dashboard": "https://grafana.example.com/d/shop",
        "fleet.platform/repo": "https://github.com/x/shop",
    }
    # Not on the pod template: an owner change must not restart pods.
    assert "annotations" not in deployment["spec"]["template"]["metadata"]


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--tier", "gold"], "--tier 'gold': must be one of critical, standard, experimental"),
        (["--slo", "100%"], "--slo '100%': must be an availability target"),
        (["--slo", "99.5"], "--slo '99.5': must be an availability target"),
        (["--runbook", "ftp://runbooks.example.com/x"], "--runbook 'ftp://runbooks.example.com/x': must be an http"),
        (["--dashboard", "grafana/d/shop"], "--dashboard 'grafana/d/shop': must be an http"),
        (["--repo", "https://"], "--repo 'https://': must be an http"),
        (["--owner", "Team Shop"], "--owner 'Team Shop': must be a team"),
    ],
)
def test_refuses_invalid_catalog_values(tmp_path: Path, args: list[str], expected: str) -> None:
    result = new_app(tmp_path, *args)  # later options win over CATALOG_ARGS
    assert result.exit_code == exits.BAD_INPUT
    assert expected in flat(result.stderr)
    assert not any(tmp_path.iterdir())


def test_catalog_options_are_required(tmp_path: Path) -> None:
    result = runner.invoke(cli, ["--apps-dir", str(tmp_path), "--image", IMAGE, "shop"])
    assert result.exit_code == exits.USAGE
    assert "--owner" in flat(result.output)


@pytest.mark.parametrize("own_namespace", [False, True])
def test_output_passes_the_platform_checks(tmp_path: Path, own_namespace: bool) -> None:
    args = ["--own-namespace"] if own_namespace else []
    assert new_app(tmp_path, *args).exit_code == 0
    files = sorted((tmp_path / "shop").iterdir())
    errors, warnings = yamllint_findings(files, REPO_ROOT / ".yamllint.yaml", tmp_path)
    assert (errors, warnings) == ([], [])
    schema_errors, _, checked, deferred = schema_findings(files, tmp_path, "1.34.0")
    assert schema_errors == []
    assert (checked, deferred) == ((8, 1) if own_namespace else (5, 1))  # the ServiceMonitor is a custom resource
    crd_errors, notes, crds = crd_findings(files, tmp_path, "1.34.0")
    assert (crd_errors, notes, crds) == ([], [], 1)
    assert kustomize_findings(tmp_path / "shop", tmp_path) == ([], 1)


def test_refuses_to_overwrite(tmp_path: Path) -> None:
    assert new_app(tmp_path).exit_code == 0
    marker = tmp_path / "shop" / "deployment.yaml"
    marker.write_text("# edited by hand\n")
    result = new_app(tmp_path)
    assert result.exit_code == exits.REFUSED
    assert "already exists; refusing to overwrite" in flat(result.stderr)
    assert marker.read_text() == "# edited by hand\n"


@pytest.mark.parametrize("name", ["Shop", "1shop", "shop-", "-shop", "sh_op", "a" * 64, ""])
def test_refuses_invalid_names_and_says_the_rule(tmp_path: Path, name: str) -> None:
    result = new_app(tmp_path, name=name)  # new_app passes "--" first: "-shop" is not an option
    assert result.exit_code == exits.BAD_INPUT
    assert "must be a DNS-1035 label" in flat(result.stderr)
    assert not any(tmp_path.iterdir())  # nothing written


def test_accepts_edge_names_and_rejects_other_bad_input() -> None:
    assert problems(spec(name="a" * 63)) == []
    assert problems(spec(name="a")) == []
    assert any(p.startswith("--port 80:") for p in problems(spec(port=80)))
    assert any(p.startswith("--namespace 'Apps':") for p in problems(spec(namespace="Apps")))
    assert any(p.startswith("--health-path 'health':") for p in problems(spec(health_path="health")))
    assert any("--max-replicas 3" in p for p in problems(spec(min_replicas=4, max_replicas=3)))


def test_plain_output_lists_next_steps(tmp_path: Path) -> None:
    result = new_app(tmp_path)
    assert result.exit_code == 0
    assert "created" in result.stdout
    assert "fleet validate" in result.stdout
