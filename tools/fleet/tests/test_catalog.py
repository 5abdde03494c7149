"""`fleet catalog`: entries read from the annotations new-app writes, as a table, JSON and Backstage descriptors."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import typer
import yaml
from fleet import exits
from fleet.catalog import catalog_command
from fleet.newapp import new_app_command
from typer.testing import CliRunner

FIXTURES = Path(__file__).parent / "fixtures" / "apps"
runner = CliRunner()
cli = typer.Typer()
cli.command()(catalog_command)
new_app = typer.Typer()
new_app.command()(new_app_command)


def flat(text: str) -> str:
    return " ".join(text.split())


def catalog(root: Path, *args: str) -> tuple[int, dict, str]:
    result = runner.invoke(cli, ["--root", str(root), *args, "--json"])
    return result.exit_code, json.loads(result.stdout) if result.stdout.strip() else {}, flat(result.stderr)


def test_lists_every_app_with_its_annotations_and_environments() -> None:
    code, data, _ = catalog(FIXTURES / "good")
    assert code == 0
    apps = {a["name"]: a for a in data["apps"]}
    assert list(apps) == ["cart", "search"]
    assert apps["cart"] == {
        "name": "cart",
        "directory": "k8s/applications/base/cart",
        "namespace": "applications",
        "workload": "Deployment/cart",
        "owner": "team-cart",
        "tier": "critical",
        "slo": "99.9%",
        "lifecycle": "production",
        "runbook": "https://runbooks.example.com/cart",
        "dashboard": "https://grafana.example.com/d/cart",
        "repo": "https://github.com/acme/cart",
        "environments": ["production", "staging"],
        "problems": [],
    }
    assert (apps["search"]["owner"], apps["search"]["tier"], apps["search"]["lifecycle"]) == (
        "group:default/team-search", "experimental", "experimental",
    )  # fmt: skip
    assert (apps["search"]["namespace"], apps["search"]["dashboard"]) == ("search", None)
    assert apps["search"]["environments"] == ["staging"]


def test_table_shows_owners_and_links() -> None:
    result = runner.invoke(cli, ["--root", str(FIXTURES / "good")], env={"COLUMNS": "250"})
    assert result.exit_code == 0
    lines = {line.split("│")[1].strip(): line for line in result.stdout.splitlines() if line.count("│") > 2}
    assert "team-cart" in lines["cart"]
    assert "https://runbooks.example.com/cart" in lines["cart"]
    assert "production, staging" in lines["cart"]
    assert "│ -" in lines["search"]  # no dashboard yet


def test_backstage_descriptors(tmp_path: Path) -> None:
    code, data, _ = catalog(FIXTURES / "good", "--backstage", str(tmp_path / "out"))
    assert code == 0
    assert data["backstage_files"] == [str(tmp_path / "out" / a / "catalog-info.yaml") for a in ("cart", "search")]
    cart = yaml.safe_load((tmp_path / "out" / "cart" / "catalog-info.yaml").read_text())
    assert cart["apiVersion"] == "backstage.io/v1alpha1"
    assert cart["kind"] == "Component"
    assert cart["metadata"]["name"] == "cart"
    assert cart["spec"] == {"type": "service", "lifecycle": "production", "owner": "team-cart"}
    assert cart["metadata"]["annotations"]["backstage.io/source-location"] == "url:https://github.com/acme/cart"
    assert cart["metadata"]["annotations"]["backstage.io/kubernetes-label-selector"] == "app.kubernetes.io/name=cart"
    assert cart["metadata"]["annotations"]["backstage.io/kubernetes-namespace"] == "applications"
    assert [(link["type"], link["url"]) for link in cart["metadata"]["links"]] == [
        ("runbook", "https://runbooks.example.com/cart"),
        ("dashboard", "https://grafana.example.com/d/cart"),
        ("repository", "https://github.com/acme/cart"),
    ]
    assert all({"url", "title", "icon", "type"} <= set(link) for link in cart["metadata"]["links"])
    search = yaml.safe_load((tmp_path / "out" / "search" / "catalog-info.yaml").read_text())
    assert search["spec"] == {"type": "service", "lifecycle": "experimental", "owner": "group:default/team-search"}
    assert "dashboard" not in [link["type"] for link in search["metadata"]["links"]]


def test_incomplete_apps_are_listed_and_get_no_descriptor(tmp_path: Path) -> None:
    code, data, stderr = catalog(FIXTURES / "broken", "--backstage", str(tmp_path))
    assert code == exits.FINDINGS
    apps = {a["name"]: a for a in data["apps"]}
    assert list(apps) == ["cart", "legacy", "search"]
    assert apps["cart"]["owner"] is None
    assert "missing annotation fleet.platform/owner (new-app sets it with --owner)" in apps["cart"]["problems"]
    assert len(apps["legacy"]["problems"]) == 5
    assert apps["search"]["problems"] == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["search"]
    assert "incomplete: cart, legacy; no catalog-info.yaml written for them" in stderr


def test_reads_what_new_app_writes(tmp_path: Path) -> None:
    args = ["--image", "ghcr.io/acme/pay:3.1.0", "--owner", "team-pay", "--tier", "standard", "--runbook",
            "https://runbooks.example.com/pay", "--repo", "https://github.com/acme/pay"]  # fmt: skip
    base = tmp_path / "k8s" / "applications" / "base"
    assert runner.invoke(new_app, ["pay", "--apps-dir", str(base), *args]).exit_code == 0
    code, data, _ = catalog(tmp_path)
    assert code == 0
    assert [(a["name"], a["owner"], a["slo"], a["environments"]) for a in data["apps"]] == [
        ("pay", "team-pay", "99.5%", [])
    ]


def test_annotations_come_from_the_workload_not_other_objects(tmp_path: Path) -> None:
    shutil.copytree(FIXTURES / "good", tmp_path, dirs_exist_ok=True)
    # A Service carrying a different owner must not win over the Deployment's.
    service = tmp_path / "k8s" / "applications" / "base" / "cart" / "service.yaml"
    doc = yaml.safe_load(service.read_text())
    doc["metadata"]["annotations"] = {"fleet.platform/owner": "someone-else"}
    service.write_text(yaml.safe_dump(doc))
    code, data, _ = catalog(tmp_path)
    assert code == 0
    assert data["apps"][0]["owner"] == "team-cart"


@pytest.mark.parametrize("layout", ["no k8s tree", "empty base"])
def test_no_apps_is_a_finding_that_names_the_directory(tmp_path: Path, layout: str) -> None:
    if layout == "empty base":
        (tmp_path / "k8s" / "applications" / "base").mkdir(parents=True)
    code, data, stderr = catalog(tmp_path)
    assert code == exits.FINDINGS
    assert data == {}  # errors go to stderr
    assert f"no apps found: no directories under {tmp_path / 'k8s' / 'applications' / 'base'}" in stderr


def test_bad_input(tmp_path: Path) -> None:
    code, _, stderr = catalog(tmp_path / "missing")
    assert code == exits.BAD_INPUT
    assert "--root" in stderr
    (tmp_path / "file").write_text("x")
    code, _, stderr = catalog(FIXTURES / "good", "--backstage", str(tmp_path / "file"))
    assert code == exits.BAD_INPUT
    assert f"--backstage {tmp_path / 'file'}: exists and is not a directory" in stderr
