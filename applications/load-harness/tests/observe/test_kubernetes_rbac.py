"""deploy/rbac.yaml grants the Kubernetes provider read access and nothing else: a Role (namespaced) with only
get/list/watch, on only the resources observe/kubernetes.py reads, bound to the app's service account; the
manifests are schema-valid, as `fleet validate` checks them. A broken copy proves the check rejects an extra verb."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

APP = Path(__file__).resolve().parents[2]
SHIPPED = APP / "deploy" / "rbac.yaml"
EXTRA_VERB = APP / "tests" / "fixtures" / "kube-hpa" / "rbac-broken" / "extra-verb.yaml"
READ_VERBS = {"get", "list", "watch"}
# (API group, resource): what the provider reads, core and events.k8s.io events both.
READ_RESOURCES = {
    ("", "pods"),
    ("", "events"),
    ("events.k8s.io", "events"),
    ("autoscaling", "horizontalpodautoscalers"),
    ("apps", "deployments"),
    ("apps", "replicasets"),
}


def documents(path: Path) -> dict[str, dict[str, Any]]:
    return {doc["kind"]: doc for doc in yaml.safe_load_all(path.read_text())}


def role_problems(role: dict[str, Any]) -> list[str]:
    """Everything the Role grants beyond reading READ_RESOURCES, and what it fails to grant of them."""
    problems = []
    granted: set[tuple[str, str]] = set()
    for rule in role.get("rules", []):
        if rule.get("nonResourceURLs") or rule.get("resourceNames"):
            problems.append(f"a rule narrows or widens by name or URL: {rule}")
        extra_verbs = sorted(set(rule.get("verbs", [])) - READ_VERBS)
        pairs = {(group, resource) for group in rule.get("apiGroups", []) for resource in rule.get("resources", [])}
        problems += [f"verb {verb} on {sorted(pairs)}" for verb in extra_verbs]
        problems += [f"resource {group or 'core'}/{resource}" for group, resource in sorted(pairs - READ_RESOURCES)]
        if set(rule.get("verbs", [])) >= READ_VERBS:
            granted |= pairs
    missing = sorted(READ_RESOURCES - granted)
    problems += [f"missing get/list/watch on {group or 'core'}/{resource}" for group, resource in missing]
    return problems


def test_the_role_only_reads_what_the_provider_needs() -> None:
    role = documents(SHIPPED)["Role"]
    assert role["metadata"]["namespace"] == "applications"
    assert role_problems(role) == []


def test_the_check_rejects_an_extra_verb() -> None:
    assert role_problems(documents(EXTRA_VERB)["Role"]) == [
        "verb patch on [('apps', 'deployments'), ('apps', 'replicasets')]"
    ]


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"apiGroups": ["*"], "resources": ["*"], "verbs": ["get"]}, "resource */*"),
        ({"apiGroups": [""], "resources": ["secrets"], "verbs": ["get"]}, "resource core/secrets"),
        ({"apiGroups": [""], "resources": ["pods"], "verbs": ["*"]}, "verb * on [('', 'pods')]"),
    ],
)
def test_the_check_rejects_wildcards_and_secrets(change: dict[str, Any], problem: str) -> None:
    role = documents(SHIPPED)["Role"]
    role["rules"].append(change)
    assert problem in role_problems(role)


def test_the_binding_gives_the_role_to_the_apps_service_account() -> None:
    docs = documents(SHIPPED)
    account, binding = docs["ServiceAccount"], docs["RoleBinding"]
    role = {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "load-harness-observer"}
    assert binding["roleRef"] == role
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "load-harness", "namespace": "applications"}]
    assert account["metadata"]["name"] == "load-harness"
    assert {d["metadata"]["namespace"] for d in docs.values()} == {"applications"}
    assert "ClusterRole" not in docs


def test_the_manifests_are_schema_valid() -> None:
    for doc in yaml.safe_load_all(SHIPPED.read_text()):
        kubernetes_validate.validate(doc, "1.34.0", strict=True)  # what `fleet validate`'s k8s-schema check runs
