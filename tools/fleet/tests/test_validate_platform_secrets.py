"""`platform-secrets`: the repository's ExternalSecrets read only secrets Terraform creates, and each way that
breaks (a name dropped from secrets.tf, a path outside the cluster's prefix, a store of another provider) shows."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
from fleet.terraform_hcl import load_tree
from fleet.validate.base import Context, Status
from fleet.validate.platform_secrets import (
    PlatformSecretsCheck,
    SecretRead,
    compare,
    fake_store_findings,
    secret_reads,
    terraform_secrets,
)
from fleet.validate.render import RenderedObject, RenderTarget, rendered_objects

REPO = Path(__file__).resolve().parents[3]
PERMANENT = REPO / "infrastructure" / "permanent"


@pytest.fixture(scope="module")
def repo_reads() -> list[SecretRead]:
    return secret_reads(rendered_objects(REPO))


def _permanent_copy(tmp_path: Path, edit: tuple[str, str] | None = None) -> Path:
    root = tmp_path / "repo"
    shutil.copytree(PERMANENT, root / "infrastructure" / "permanent", ignore=shutil.ignore_patterns(".terraform*"))
    if edit:
        secrets = root / "infrastructure" / "permanent" / "secrets.tf"
        text = secrets.read_text(encoding="utf-8")
        assert edit[0] in text
        secrets.write_text(text.replace(edit[0], edit[1]), encoding="utf-8")
    return root


def test_the_repository_passes() -> None:
    result = PlatformSecretsCheck().run(Context(root=REPO))
    assert result.errors == []
    assert result.warnings == []
    assert result.status == Status.PASS
    # staging and production: the app's API key and Flagger token, Flux's copy of the token, Alertmanager's
    # receivers and cert-manager's Cloudflare token (10); kind's fake store: the app's two and Alertmanager's (3).
    assert result.checked == 13


def test_every_cluster_reads_its_own_four_paths(repo_reads: list[SecretRead]) -> None:
    for cluster in ("staging", "production"):
        assert sorted({r.path for r in repo_reads if r.cluster == cluster}) == [
            f"platform/{cluster}/alertmanager-receivers",
            f"platform/{cluster}/cloudflare-api-token",
            f"platform/{cluster}/load-harness/api-key",
            f"platform/{cluster}/load-harness/flagger-token",
        ]
    assert {r.cluster for r in repo_reads} == {"staging", "production"}  # kind's fake store is not AWS


def test_terraform_creates_each_name_for_each_environment() -> None:
    created, problems = terraform_secrets(load_tree(REPO))
    assert problems == []
    assert len(created) == 8
    assert "platform/production/cloudflare-api-token" in created


def test_a_name_dropped_from_secrets_tf_fails_naming_the_external_secret(
    tmp_path: Path, repo_reads: list[SecretRead]
) -> None:
    root = _permanent_copy(tmp_path, ('"alertmanager-receivers", "cloudflare-api-token"', '"alertmanager-receivers"'))
    created, problems = terraform_secrets(load_tree(root))
    assert problems == []
    errors, _ = compare(created, repo_reads)
    assert errors == [
        "production: ExternalSecret cert-manager/cloudflare-api-token reads "
        "'platform/production/cloudflare-api-token', which infrastructure/permanent/secrets.tf does not create",
        "staging: ExternalSecret cert-manager/cloudflare-api-token reads 'platform/staging/cloudflare-api-token', "
        "which infrastructure/permanent/secrets.tf does not create",
    ]


def test_an_environment_dropped_from_the_default_fails_every_read_of_it(
    tmp_path: Path, repo_reads: list[SecretRead]
) -> None:
    root = _permanent_copy(tmp_path)
    variables = root / "infrastructure" / "permanent" / "variables.tf"
    text = variables.read_text(encoding="utf-8")
    variables.write_text(text.replace('default     = ["staging", "production"]', 'default     = ["staging"]'))
    created, _ = terraform_secrets(load_tree(root))
    errors, _ = compare(created, repo_reads)
    assert len(errors) == 5
    assert all(e.startswith("production: ") for e in errors)


def test_secrets_tf_without_its_name_lists_is_an_error(tmp_path: Path) -> None:
    root = _permanent_copy(tmp_path, ("operator_secret_names  =", "operator_names =")).resolve()
    text = (root / "infrastructure/permanent/secrets.tf").read_text(encoding="utf-8")
    (root / "infrastructure/permanent/secrets.tf").write_text(text.replace("local.operator_secret_names", "[]"))
    created, problems = terraform_secrets(load_tree(root))
    assert created == set()
    assert problems == [
        "infrastructure/permanent/secrets.tf: cannot find local.operator_secret_names, which name the secrets"
    ]


def test_a_path_outside_the_clusters_prefix_is_an_error_and_an_unread_secret_a_warning() -> None:
    created = {"platform/staging/app/key", "platform/staging/unused"}
    reads = [
        SecretRead("staging", "platform/staging/app/key", "staging: ExternalSecret a/key"),
        SecretRead("staging", "platform/production/app/key", "staging: ExternalSecret a/stolen"),
    ]
    errors, warnings = compare(created, reads)
    assert errors == [
        "staging: ExternalSecret a/stolen reads 'platform/production/app/key', outside platform/staging/, which its "
        "external-secrets may read"
    ]
    assert warnings == [
        "infrastructure/permanent/secrets.tf: platform/staging/unused is created but no ExternalSecret reads it"
    ]


def _obj(kind: str, name: str, namespace: str | None, spec: dict[str, Any], cluster: str = "staging") -> RenderedObject:
    target = RenderTarget(root=REPO, rel="k8s/x", cluster=cluster, origin="overlay")
    doc = {"apiVersion": "external-secrets.io/v1", "kind": kind, "metadata": {"name": name}, "spec": spec}
    return RenderedObject(target, 0, kind, "external-secrets.io/v1", name, namespace, doc)


def test_only_aws_secrets_manager_stores_count_and_both_key_forms_are_read() -> None:
    aws = {"provider": {"aws": {"service": "SecretsManager", "region": "eu-west-2"}}}
    fake = {"provider": {"fake": {"data": []}}}
    external = {
        "secretStoreRef": {"kind": "ClusterSecretStore", "name": "aws"},
        "data": [{"secretKey": "k", "remoteRef": {"key": "platform/staging/a"}}],
        "dataFrom": [{"extract": {"key": "platform/staging/b"}}],
    }
    local = {**external, "secretStoreRef": {"kind": "ClusterSecretStore", "name": "fake"}}
    namespaced = {**external, "secretStoreRef": {"kind": "SecretStore", "name": "aws"}}  # no SecretStore "aws" in ns
    objects = [
        _obj("ClusterSecretStore", "aws", None, aws),
        _obj("ClusterSecretStore", "fake", None, fake),
        _obj("ExternalSecret", "one", "apps", external),
        _obj("ExternalSecret", "local", "apps", local),
        _obj("ExternalSecret", "scoped", "apps", namespaced),
        _obj("ExternalSecret", "elsewhere", "apps", external, cluster="production"),  # no AWS store there
    ]
    assert secret_reads(objects) == [
        SecretRead("staging", "platform/staging/a", "staging: ExternalSecret apps/one"),
        SecretRead("staging", "platform/staging/b", "staging: ExternalSecret apps/one"),
    ]


def test_a_read_the_kind_clusters_fake_store_cannot_answer_is_an_error() -> None:
    fake = {"provider": {"fake": {"data": [{"key": "local/app/key", "value": "dev"}]}}}
    read = {"secretStoreRef": {"kind": "ClusterSecretStore", "name": "fake"}, "data": [{"remoteRef": {}}]}

    def reading(key: str) -> RenderedObject:
        spec = {**read, "data": [{"secretKey": "k", "remoteRef": {"key": key}}]}
        return _obj("ExternalSecret", key.replace("/", "-"), "apps", spec, cluster="local")

    store = _obj("ClusterSecretStore", "fake", None, fake, cluster="local")
    assert fake_store_findings([store, reading("local/app/key")]) == ([], 1)
    assert fake_store_findings([store, reading("local/app/other")]) == (
        [
            "local: ExternalSecret apps/local-app-other reads 'local/app/other', "
            "which no fake store of the cluster holds"
        ],
        1,
    )
