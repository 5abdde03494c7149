"""The local kind cluster's files, checked without Docker: shellcheck on scripts/*.sh, the kind config's shape,
and that the ports kind maps reach the Envoy NodePorts of the `local` overlay.

`make kind-up` cannot run in CI (no Docker engine), so these are the checks that keep it from rotting. Each one
has a broken fixture under fixtures/kind/ proving that it fails.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from fleet.k8s_yaml import is_kustomize_config

ROOT = Path(__file__).resolve().parents[3]
FIXTURES = Path(__file__).parent / "fixtures" / "kind"
KIND_CONFIG = ROOT / "k8s" / "kind" / "kind-config.yaml"
ENVOY_PROXY = ROOT / "k8s" / "infrastructure" / "local" / "configs" / "envoyproxy-nodeport.yaml"
SCRIPTS = sorted((ROOT / "scripts").glob("*.sh"))

# The clusters run Kubernetes 1.35 (the GitOps conventions); the kind node must be the same minor, pinned by
# digest so every machine boots the same node. Unknown fields are errors: kind ignores a misspelt key silently.
NODE = {
    "type": "object",
    "additionalProperties": False,
    "required": ["role", "image"],
    "properties": {
        "role": {"enum": ["control-plane", "worker"]},
        "image": {"type": "string", "pattern": r"^kindest/node:v1\.35\.\d+@sha256:[0-9a-f]{64}$"},
        "labels": {"type": "object", "additionalProperties": {"type": "string"}},
        "extraPortMappings": {
            "type": "array",
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["containerPort", "hostPort"],
                "properties": {
                    "containerPort": {"type": "integer", "minimum": 1, "maximum": 65535},
                    "hostPort": {"type": "integer", "minimum": 1, "maximum": 65535},
                    "listenAddress": {"type": "string"},
                    "protocol": {"enum": ["TCP", "UDP", "SCTP"]},
                },
            },
        },
    },
}
KIND_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "additionalProperties": False,
    "required": ["kind", "apiVersion", "nodes"],
    "properties": {
        "kind": {"const": "Cluster"},
        "apiVersion": {"const": "kind.x-k8s.io/v1alpha4"},
        "name": {"type": "string"},
        "networking": {"type": "object"},
        # Exactly one control plane and at least one worker: workloads then run on a node that is not the
        # control plane, as on EKS.
        "nodes": {
            "type": "array",
            "items": NODE,
            "allOf": [
                {"contains": {"properties": {"role": {"const": "control-plane"}}}, "minContains": 1, "maxContains": 1},
                {"contains": {"properties": {"role": {"const": "worker"}}}, "minContains": 1},
            ],
        },
    },
}


def kind_config_errors(path: Path) -> list[str]:
    """Every schema violation of a kind config, as `path: message` lines (empty when valid)."""
    document = yaml.safe_load(path.read_text(encoding="utf-8"))
    validator = jsonschema.Draft202012Validator(KIND_SCHEMA)
    return [f"{'/'.join(map(str, error.absolute_path))}: {error.message}" for error in validator.iter_errors(document)]


def shellcheck(path: Path) -> subprocess.CompletedProcess[str]:
    # --severity=style: everything shellcheck reports fails, info and style included; -x follows `source`.
    return subprocess.run(
        ["shellcheck", "--severity=style", "-x", str(path)], capture_output=True, text=True, check=False, timeout=60
    )


def require_shellcheck() -> None:
    if shutil.which("shellcheck") is None:
        pytest.skip("shellcheck is not installed (apt-get install shellcheck; .ci/run installs it)")


def test_there_are_scripts_to_check() -> None:
    # An empty glob would make the shellcheck test below pass vacuously.
    assert {p.name for p in SCRIPTS} >= {"kind-up.sh", "kind-down.sh"}


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_scripts_pass_shellcheck(script: Path) -> None:
    require_shellcheck()
    result = shellcheck(script)
    assert result.returncode == 0, result.stdout + result.stderr


def test_shellcheck_fails_the_broken_fixture() -> None:
    require_shellcheck()
    result = shellcheck(FIXTURES / "broken-script.sh")
    assert result.returncode != 0
    assert "SC2086" in result.stdout
    assert "SC2154" in result.stdout


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_scripts_are_strict_and_executable(script: Path) -> None:
    text = script.read_text(encoding="utf-8")
    assert text.startswith("#!/usr/bin/env bash\n")
    assert "\nset -euo pipefail\n" in text
    assert os.access(script, os.X_OK), f"{script} is not executable (make kind-up runs it directly)"


@pytest.mark.parametrize(
    ("script", "tools"), [("kind-up.sh", ["docker", "kind", "kubectl", "flux", "git"]), ("kind-down.sh", ["docker"])]
)
def test_scripts_name_missing_tools(tmp_path: Path, script: str, tools: list[str]) -> None:
    # A PATH holding only bash and dirname: the script must stop before doing anything, exit 1 and name what is
    # missing (kind-up names every missing tool at once; kind-down stops at the first).
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("bash", "dirname"):
        found = shutil.which(tool)
        assert found is not None
        (bin_dir / tool).symlink_to(found)
    result = subprocess.run(
        [str(bin_dir / "bash"), str(ROOT / "scripts" / script)],
        capture_output=True,
        text=True,
        check=False,
        timeout=30,
        env={"PATH": str(bin_dir), "HOME": str(tmp_path)},
    )
    assert result.returncode == 1, result.stderr
    for tool in tools:
        assert tool in result.stderr
    assert result.stdout == ""


def test_kind_config_is_valid() -> None:
    assert kind_config_errors(KIND_CONFIG) == []


@pytest.mark.parametrize(
    ("fixture", "expected"),
    [
        ("tag-only-image.yaml", "does not match"),
        ("no-worker.yaml", "Additional properties are not allowed ('extraPortMapping' was unexpected)"),
        ("no-worker.yaml", "does not contain items matching"),
        ("wrong-api.yaml", "'kind.x-k8s.io/v1alpha4' was expected"),
        ("old-kubernetes.yaml", "does not match"),
    ],
)
def test_kind_config_schema_fails_broken_fixtures(fixture: str, expected: str) -> None:
    errors = kind_config_errors(FIXTURES / fixture)
    assert any(expected in error for error in errors), errors


def mapped_container_ports(config: dict[str, Any]) -> set[int]:
    return {m["containerPort"] for node in config["nodes"] for m in node.get("extraPortMappings", [])}


def envoy_node_ports(proxy: dict[str, Any]) -> set[int]:
    service = proxy["spec"]["provider"]["kubernetes"]["envoyService"]
    assert service["type"] == "NodePort"
    return {port["nodePort"] for port in service["patch"]["value"]["spec"]["ports"]}


def test_kind_ports_reach_the_local_envoy_node_ports() -> None:
    # The host ports only work if the Envoy Service listens on exactly the node ports kind forwards.
    config = yaml.safe_load(KIND_CONFIG.read_text(encoding="utf-8"))
    proxy = yaml.safe_load(ENVOY_PROXY.read_text(encoding="utf-8"))
    assert mapped_container_ports(config) == envoy_node_ports(proxy) == {30080, 30443}


def test_port_check_fails_on_a_mismatch() -> None:
    config = yaml.safe_load(KIND_CONFIG.read_text(encoding="utf-8"))
    config["nodes"][1]["extraPortMappings"][0]["containerPort"] = 30081
    proxy = yaml.safe_load(ENVOY_PROXY.read_text(encoding="utf-8"))
    assert mapped_container_ports(config) != envoy_node_ports(proxy)


# A stub for each external tool: it appends its argv to a log and answers the few queries kind-up.sh makes, so
# the whole script runs without Docker and the test reads back what it would have done.
STUB = """#!/usr/bin/env bash
printf '%s\\n' "$(basename "$0") $*" >> "$STUB_LOG"
if [ "$(basename "$0") $1" = "${STUB_FAIL:-}" ]; then exit 1; fi
case "$(basename "$0") $*" in
  "git "*"remote get-url origin") echo git@github.com:acme/platform.git ;;
  "git "*"rev-parse --abbrev-ref HEAD") echo feature-x ;;
  "kind get clusters") printf '%s\\n' "${STUB_CLUSTERS:-}" ;;
esac
"""


def run_kind_up(tmp_path: Path, clusters: str = "", fail: str = "") -> tuple[int, list[str]]:
    bin_dir = tmp_path / "stubs"
    bin_dir.mkdir()
    for tool in ("docker", "kind", "kubectl", "flux", "git"):
        stub = bin_dir / tool
        stub.write_text(STUB, encoding="utf-8")
        stub.chmod(0o755)
    log = tmp_path / "calls.log"
    result = subprocess.run(
        ["bash", str(ROOT / "scripts" / "kind-up.sh")],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
        env={
            "PATH": f"{bin_dir}:/usr/bin:/bin",
            "HOME": str(tmp_path),
            "STUB_LOG": str(log),
            "STUB_CLUSTERS": clusters,
            "STUB_FAIL": fail,
        },
    )
    return result.returncode, log.read_text(encoding="utf-8").splitlines()


def test_kind_up_runs_the_documented_steps(tmp_path: Path) -> None:
    code, calls = run_kind_up(tmp_path)
    assert code == 0, calls
    config = ROOT / "k8s" / "kind" / "kind-config.yaml"
    expected = [
        f"kind create cluster --name load-harness --config {config} --wait 5m",
        f"docker build -f {ROOT}/applications/load-harness/Dockerfile --build-arg APP_VERSION=v2.0.0 "
        f"-t registry.local/load-harness:v2.0.0 {ROOT}",
        "docker tag postgres:16.6-alpine registry.local/mirror/postgres:16.6-alpine",
        "kind load docker-image --name load-harness registry.local/load-harness:v2.0.0 "
        "registry.local/mirror/postgres:16.6-alpine",
        "flux install --components-extra=image-reflector-controller,image-automation-controller",
        # The scp-style remote becomes an ssh:// URL, which is what Flux's GitRepository accepts.
        "flux create source git flux-system --url=ssh://git@github.com/acme/platform.git --branch=feature-x "
        "--interval=1m",
        "flux create kustomization flux-system --source=GitRepository/flux-system --path=./k8s/clusters/local "
        "--prune=true --interval=10m",
        "kubectl -n flux-system wait kustomization/apps --for=condition=Ready --timeout=15m",
    ]
    positions = [calls.index(call) for call in expected]  # ValueError names a step that did not run
    assert positions == sorted(positions), calls


def test_kind_up_reuses_an_existing_cluster(tmp_path: Path) -> None:
    code, calls = run_kind_up(tmp_path, clusters="other\nload-harness")
    assert code == 0, calls
    assert not any(call.startswith("kind create") for call in calls)


def test_kind_up_stops_at_the_first_failing_step(tmp_path: Path) -> None:
    # The broken case for the step test: with `flux install` failing, nothing may be synced afterwards.
    code, calls = run_kind_up(tmp_path, fail="flux install")
    assert code != 0
    assert calls[-1].startswith("flux install")
    assert not any(call.startswith("flux create") for call in calls)


def test_fleet_validate_treats_the_kind_config_as_tool_input() -> None:
    # kind's config is not a Kubernetes object (no metadata, and kind rejects one), so the object checks skip it;
    # a Kubernetes object with the same shape is still checked.
    config = yaml.safe_load(KIND_CONFIG.read_text(encoding="utf-8"))
    assert is_kustomize_config(KIND_CONFIG, config)
    assert not is_kustomize_config(KIND_CONFIG, {**config, "apiVersion": "v1"})
