"""`admission-policies`: ValidatingAdmissionPolicy CEL (cel-python + the k8s strings functions) on rendered objects."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from fleet.validate.admission import Policy, load_policies, namespace_object, resource_of, selector_matches
from fleet.validate.base import Context
from fleet.validate.cel_k8s import CelError, Program, to_cel
from fleet.validate.policies import FIXTURES as FIXTURE_DIR
from fleet.validate.policies import AdmissionPoliciesCheck, ClusterView, evaluate, fixture_findings

FIXTURES = Path(__file__).parent / "fixtures" / "validate" / "policies"


def _pod(image: str, ns: str = "applications", **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "p", "namespace": ns},
        "spec": {"containers": [{"name": "c", "image": image}], **spec},
    }


def _policy(expression: str, **extra: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    policy = {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingAdmissionPolicy",
        "metadata": {"name": "t"},
        "spec": {
            "matchConstraints": {
                "resourceRules": [
                    {"apiGroups": [""], "apiVersions": ["v1"], "operations": ["CREATE"], "resources": ["pods"]}
                ]
            },
            "validations": [{"expression": expression, "messageExpression": "'bad: ' + object.metadata.name"}],
            **extra,
        },
    }
    binding = {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingAdmissionPolicyBinding",
        "metadata": {"name": "t"},
        "spec": {"policyName": "t", "validationActions": ["Deny"]},
    }
    return policy, binding


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("'a:b:c'.split(':')[2]", "c"),
        ("'a:b:c'.split(':', 2)[1]", "b:c"),
        ("'reg/app:v1'.lastIndexOf(':')", 7),
        ("'reg/app'.indexOf('/')", 3),
        ("'AbC'.lowerAscii() + 'x'.upperAscii()", "abcX"),
        ("' x '.trim()", "x"),
        ("'a-b'.replace('-', '_')", "a_b"),
        ("'abcdef'.substring(1, 3)", "bc"),
        ("['a', 'b'].join(',')", "a,b"),
        ("'abc'.charAt(1)", "b"),
        ("'v1.2.3'.matches('^v[0-9]+[.][0-9]+[.][0-9]+$')", True),
    ],
)
def test_kubernetes_strings_functions(expression: str, expected: Any) -> None:
    assert Program(expression).evaluate({}) == expected


def test_unsupported_syntax_and_missing_fields_are_errors_not_passes() -> None:
    with pytest.raises(CelError, match="cannot compile"):
        Program("object.?metadata.orValue({})")
    with pytest.raises(CelError, match="nope"):
        Program("object.nope == 1").evaluate({"object": to_cel({})})


def test_policy_denies_with_message_expression_and_admits_the_rest() -> None:
    policy, binding = _policy("object.spec.containers.all(c, !c.image.endsWith(':latest'))")
    (loaded,) = load_policies([policy, binding])
    assert loaded.evaluate(_pod("r/a:latest"), None).messages == ("bad: p",)
    assert not loaded.evaluate(_pod("r/a:v1"), None).denied


def test_variables_and_match_conditions() -> None:
    policy, binding = _policy(
        "variables.images.all(i, i.startsWith('r/'))",
        variables=[
            {"name": "spec", "expression": "object.spec"},
            {"name": "images", "expression": "variables.spec.containers.map(c, c.image)"},
        ],
        matchConditions=[{"name": "skip-system", "expression": "object.metadata.namespace != 'kube-system'"}],
    )
    loaded = Policy(policy, [binding])
    assert loaded.evaluate(_pod("docker.io/x:1"), None).denied
    skipped = loaded.evaluate(_pod("docker.io/x:1", ns="kube-system"), None)
    assert not skipped.denied
    assert not skipped.matched


def test_evaluation_error_denies_like_failure_policy_fail() -> None:
    policy, binding = _policy("object.spec.securityContext.runAsNonRoot == true")
    verdict = Policy(policy, [binding]).evaluate(_pod("r/a:v1"), None)
    assert verdict.denied
    assert "evaluation error" in verdict.messages[0]


def test_namespace_selector_on_the_binding_uses_rendered_namespace_labels() -> None:
    policy, binding = _policy("false")
    binding["spec"]["matchResources"] = {
        "namespaceSelector": {"matchExpressions": [{"key": "exempt", "operator": "DoesNotExist"}]}
    }
    namespaces = {
        "tools": {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "tools", "labels": {"exempt": "true"}}}
    }
    loaded = load_policies([policy, binding])
    errors, _, count = evaluate(loaded, [("a", _pod("x:1")), ("b", _pod("x:1", ns="tools"))], namespaces)
    assert count == 1
    assert len(errors) == 1
    assert errors[0].startswith("a: denied by t: bad: p")


def test_helpers() -> None:
    assert [resource_of(k) for k in ("Deployment", "NetworkPolicy", "Ingress", "Gateway")] == [
        "deployments", "networkpolicies", "ingresses", "gateways",
    ]  # fmt: skip
    assert selector_matches({"matchLabels": {"a": "1"}}, {"a": "1", "b": "2"})
    assert not selector_matches({"matchExpressions": [{"key": "a", "operator": "In", "values": ["2"]}]}, {"a": "1"})
    assert namespace_object("default", {})["metadata"]["labels"] == {"kubernetes.io/metadata.name": "default"}


def test_good_fixture_passes() -> None:
    result = AdmissionPoliciesCheck().run(Context(root=FIXTURES / "good"))
    assert result.ok, result.errors
    assert result.checked >= 6  # 3 workload evaluations + 3 fixture files


def test_broken_fixture_fails_naming_object_policy_and_message() -> None:
    errors = AdmissionPoliciesCheck().run(Context(root=FIXTURES / "bad")).errors
    assert any(
        "Deployment applications/untagged: denied by test-pinned-image-tags" in e and ": nginx" in e for e in errors
    )
    assert any("Deployment applications/untagged: denied by test-registry-only" in e for e in errors)
    assert any("denied/registry.yaml" in e and "expected denial by test-registry-only" in e for e in errors)
    assert any("allowed/latest.yaml" in e and "denied by test-pinned-image-tags" in e for e in errors)
    assert any("policy test-registry-only: no fixture" in e for e in errors)
    assert len(errors) == 5


def test_a_denied_fixture_denied_only_by_a_broken_expression_fails(tmp_path: Path) -> None:
    policy, binding = _policy("object.spec.nope == 1")  # errors on every pod: proves nothing about the rule
    denied = tmp_path / FIXTURE_DIR / "denied"
    denied.mkdir(parents=True)
    (denied / "pod.yaml").write_text("# expect-deny: t\n" + yaml.safe_dump(_pod("r/a:latest")), encoding="utf-8")
    errors, checked = fixture_findings(tmp_path, ClusterView("staging"), load_policies([policy, binding]))
    assert checked == 1
    assert "t denied it only by an error" in errors[0]
    assert errors[1].startswith("policy t: no fixture")  # so it does not count as the policy's proof
    assert len(errors) == 2
