"""`consistency`: Canary/Service/Deployment ports, exact chart versions, pinned images, resources set."""

from __future__ import annotations

from pathlib import Path

import pytest
from fleet.validate.base import Context
from fleet.validate.consistency import EXACT_VERSION, ConsistencyCheck, _walk_images, image_findings, image_problem

FIXTURES = Path(__file__).parent / "fixtures" / "validate" / "consistency"


def test_good_fixture_passes() -> None:
    result = ConsistencyCheck().run(Context(root=FIXTURES / "good"))
    assert result.ok, result.errors
    assert result.summary.startswith("1 canaries, 2 releases, 1 containers")


@pytest.mark.parametrize(
    ("fixture", "expected"),
    [
        (
            "latest-image",
            "k8s/applications/staging/app.yaml: Deployment app: image registry.example/app:latest uses :latest",
        ),
        (
            "unpinned-chart",
            "HelmRelease applications/cert-manager: chart cert-manager version '>=1.16.0' is not an exact",
        ),
        ("missing-limit", "Deployment applications/app: container app lacks resources limits.memory"),
        (
            "port-mismatch",
            "Canary applications/app: service.targetPort 9090 (= 9090) but Service applications/app port 80",
        ),
    ],
)
def test_each_broken_fixture_fails_for_its_reason(fixture: str, expected: str) -> None:
    errors = ConsistencyCheck().run(Context(root=FIXTURES / fixture)).errors
    assert errors
    # Only the fixture's own fault is reported (the port mismatch shows in two ways: Service and container).
    assert all(expected in e or "9090 is not a container port" in e for e in errors), errors
    assert any(expected in e for e in errors)


@pytest.mark.parametrize(
    ("image", "problem"),
    [
        ("r/app:v1", None),
        ("r/app@sha256:" + "0" * 64, None),
        ("r/app:latest", "uses :latest"),
        ("localhost:5000/app", "has no tag"),
        ("nginx", "has no tag"),
    ],
)
def test_image_problem(image: str, problem: str | None) -> None:
    assert image_problem(image) == problem


@pytest.mark.parametrize("version", ["1.2.3", "v1.16.2", "1.0.0-rc.1", "2.0.0+build.5"])
def test_exact_versions(version: str) -> None:
    assert EXACT_VERSION.match(version)


@pytest.mark.parametrize("version", ["*", ">=1.0.0", "~1.2", "^1.2.3", "1.x", "1.2", ""])
def test_ranges_are_not_exact(version: str) -> None:
    assert not EXACT_VERSION.match(version)


def test_helm_values_images_are_checked_even_without_a_container_name() -> None:
    release = {
        "kind": "HelmRelease",
        "spec": {"values": {"sidecar": {"image": "busybox"}, "x": {"image": {"repository": "r", "tag": "latest"}}}},
    }
    found: list[str] = []
    _walk_images(release, found, values=True)
    assert sorted(found) == ["busybox", "r:latest"]
    repo: list[str] = []
    _walk_images({"kind": "ImageRepository", "spec": {"image": "registry.example/app"}}, repo)
    assert repo == []


def test_an_image_tagged_by_its_kustomization_passes_and_a_latest_one_fails(tmp_path: Path) -> None:
    app = tmp_path / "k8s" / "app"
    app.mkdir(parents=True)
    (app / "deployment.yaml").write_text(
        "kind: Deployment\nmetadata: {name: web}\nspec:\n  template:\n    spec:\n      containers:\n"
        "        - {name: web, image: web}\n        - {name: side, image: side}\n",
        encoding="utf-8",
    )
    kustomization = "resources: [deployment.yaml]\nimages:\n  - {name: web, newName: r/web, newTag: v1.2.3}\n"
    (app / "kustomization.yaml").write_text(kustomization, encoding="utf-8")
    errors, _ = image_findings(tmp_path)
    assert errors == ["k8s/app/deployment.yaml: Deployment web: image side has no tag"]  # `web` gets v1.2.3
    (app / "kustomization.yaml").write_text(kustomization.replace("v1.2.3", "latest"), encoding="utf-8")
    errors, _ = image_findings(tmp_path)
    assert "k8s/app/kustomization.yaml: images: web gets :latest" in errors
