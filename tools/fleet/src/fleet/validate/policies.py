"""The `admission-policies` check: every ValidatingAdmissionPolicy's CEL against the rendered workloads.

Per cluster (the rendered targets that share a cluster-vars), the policies and bindings found in the rendered
output are applied to every rendered object they select, with the rendered Namespaces' labels for
namespaceSelector and namespaceObject. A denied object fails the check, naming the object, the policy and the
message. Then the policy fixtures, k8s/infrastructure/configs/policies/tests/: each denied/*.yaml must be denied
by the policy its first line names (`# expect-deny: <policy-name>`), each allowed/*.yaml admitted by every policy,
and every policy must have at least one denied fixture, so a policy that admits everything cannot pass.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from fleet.validate.admission import EVAL_ERROR, Policy, load_policies, namespace_object
from fleet.validate.base import Check, CheckResult, Context
from fleet.validate.render import RenderedObjects, cluster_vars, render_all, substitute

FIXTURES = Path("k8s/infrastructure/configs/policies/tests")
EXPECT = re.compile(r"^#\s*expect-deny:\s*(\S+)\s*$")
PREFERRED_CLUSTER = "staging"  # the fixtures are evaluated with this cluster's policies when it has them


@dataclass
class ClusterView:
    """Everything rendered for one cluster, deduplicated (a directory may be both an overlay and a Flux path)."""

    cluster: str
    objects: list[tuple[str, dict[str, Any]]] = field(default_factory=list)  # (where, doc)
    namespaces: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def docs(self) -> list[dict[str, Any]]:
        return [doc for _, doc in self.objects]


def cluster_views(rendered: list[RenderedObjects]) -> list[ClusterView]:
    views: dict[str, ClusterView] = {}
    seen: set[tuple[str, str, str, str, str]] = set()
    for result in rendered:
        view = views.setdefault(result.target.cluster or "-", ClusterView(result.target.cluster or "-"))
        for obj in result.objects:
            key = (view.cluster, obj.api_version, obj.kind, obj.namespace or "", obj.name)
            if key in seen:
                continue
            seen.add(key)
            view.objects.append((obj.where, obj.doc))
            if obj.kind == "Namespace" and obj.api_version == "v1":
                view.namespaces[obj.name] = obj.doc
    return [views[k] for k in sorted(views)]


def _ns_of(doc: dict[str, Any], namespaces: dict[str, dict[str, Any]]) -> dict[str, Any] | None:
    """namespaceObject for a namespaced object; None for cluster-scoped ones (no metadata.namespace)."""
    ns = (doc.get("metadata") or {}).get("namespace")
    return namespace_object(str(ns), namespaces) if ns else None


def evaluate(
    policies: list[Policy], objects: list[tuple[str, dict[str, Any]]], namespaces: dict[str, dict[str, Any]]
) -> tuple[list[str], list[str], int]:
    """Errors (denials by a Deny binding), warnings (Warn/Audit-only denials) and how many evaluations ran."""
    errors: list[str] = []
    warnings: list[str] = []
    count = 0
    for policy in policies:
        if policy.uses_params:
            warnings.append(f"policy {policy.name}: uses paramKind; not evaluated offline (no params)")
            continue
        if not policy.bindings:
            warnings.append(f"policy {policy.name}: no ValidatingAdmissionPolicyBinding, so it never applies")
            continue
        for where, doc in objects:
            ns_obj = _ns_of(doc, namespaces)
            if not policy.selects(doc, ns_obj):
                continue
            count += 1
            verdict = policy.evaluate(doc, ns_obj)
            if verdict.denied:
                line = f"{where}: denied by {policy.name}: {'; '.join(verdict.messages)}"
                (errors if policy.denies_on_bind() else warnings).append(line)
    return errors, warnings, count


def _fixture_docs(path: Path, variables: dict[str, str]) -> tuple[str | None, list[dict[str, Any]], list[str]]:
    text = path.read_text(encoding="utf-8")
    first = text.splitlines()[0] if text else ""
    match = EXPECT.match(first)
    substituted, missing = substitute(text, variables)
    problems = [f"{path}: ${{{name}}} is not in cluster-vars" for name in missing]
    try:
        docs = [d for d in yaml.safe_load_all(substituted) if isinstance(d, dict)]
    except yaml.YAMLError as exc:
        return None, [], [f"{path}: cannot parse: {exc}"]
    return (match.group(1) if match else None), docs, problems


def fixture_findings(root: Path, view: ClusterView, policies: list[Policy]) -> tuple[list[str], int]:
    """The expect-deny / allowed fixtures against the policies of one cluster."""
    base = root / FIXTURES
    errors: list[str] = []
    checked = 0
    by_name = {p.name: p for p in policies}
    variables = cluster_vars(root, view.cluster)
    denied_by: dict[str, int] = {p.name: 0 for p in policies}
    for kind in ("denied", "allowed"):
        for path in sorted((base / kind).glob("*.yaml")) if (base / kind).is_dir() else []:
            rel = path.relative_to(root)
            expected, docs, problems = _fixture_docs(path, variables)
            errors += problems
            checked += 1
            if kind == "denied" and (expected is None or expected not in by_name):
                errors.append(f"{rel}: first line must be `# expect-deny: <policy>` naming one of {sorted(by_name)}")
                continue
            for doc in docs:
                ns_obj = _ns_of(doc, view.namespaces)
                label = f"{rel} {doc.get('kind')} {(doc.get('metadata') or {}).get('name')}"
                verdicts = {p.name: p.evaluate(doc, ns_obj) for p in policies if p.selects(doc, ns_obj)}
                if kind == "denied":
                    verdict = verdicts.get(str(expected))
                    if verdict is None or not verdict.denied:
                        why = "not selected by its match rules" if verdict is None else "admitted"
                        errors.append(f"{label}: expected denial by {expected}, but it was {why}")
                    elif all(m.startswith(EVAL_ERROR) for m in verdict.messages):
                        # A broken expression denies everything: that proves nothing about the rule.
                        errors.append(f"{label}: {expected} denied it only by an error: {verdict.messages[0]}")
                    else:
                        denied_by[str(expected)] += 1
                else:
                    errors += [
                        f"{label}: allowed fixture denied by {n}: {'; '.join(v.messages)}"
                        for n, v in verdicts.items()
                        if v.denied
                    ]
    errors += [
        f"policy {n}: no fixture under {FIXTURES}/denied/ proves it denies anything"
        for n, c in denied_by.items()
        if c == 0
    ]
    return errors, checked


class AdmissionPoliciesCheck(Check):
    name = "admission-policies"
    description = "ValidatingAdmissionPolicy CEL (cel-python) against every rendered workload, and the policy fixtures"

    def run(self, ctx: Context) -> CheckResult:
        views = cluster_views(render_all(ctx.root))
        errors: list[str] = []
        warnings: list[str] = []
        evaluations = 0
        policy_count = 0
        fixture_view: tuple[ClusterView, list[Policy]] | None = None
        for view in views:
            policies = load_policies(view.docs)
            if not policies:
                continue
            policy_count = max(policy_count, len(policies))
            e, w, n = evaluate(policies, view.objects, view.namespaces)
            errors += e
            warnings += w
            evaluations += n
            if fixture_view is None or view.cluster == PREFERRED_CLUSTER:
                fixture_view = (view, policies)
        fixtures = 0
        if fixture_view is not None:
            e, fixtures = fixture_findings(ctx.root, *fixture_view)
            errors += e
        elif (ctx.root / FIXTURES).is_dir():
            errors.append(f"{FIXTURES} has fixtures but no rendered target contains a ValidatingAdmissionPolicy")
        summary = (
            f"{policy_count} policy(ies), {evaluations} evaluation(s) over {len(views)} cluster(s), "
            f"{fixtures} fixture file(s)"
        )
        return CheckResult.from_findings(self.name, summary, errors, sorted(set(warnings)), evaluations + fixtures)
