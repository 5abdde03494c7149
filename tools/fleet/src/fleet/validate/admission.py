"""ValidatingAdmissionPolicy semantics, offline: which objects a policy and its bindings select, and its verdict.

Follows admissionregistration.k8s.io/v1 as the API server applies it to a CREATE: matchConstraints
(resourceRules, excludeResourceRules, namespaceSelector, objectSelector), each binding's matchResources (which
narrow the policy further), then matchConditions, variables, validations with message/messageExpression. An
expression that fails to compile or evaluate denies, as failurePolicy Fail (the default) does on a cluster.
Policies with paramKind are reported, not evaluated: there are no params offline.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fleet.validate.cel_k8s import CelError, Program, to_cel
from fleet.validate.shapes import as_dict, as_list

VAP_GROUP = "admissionregistration.k8s.io"
NS_NAME_LABEL = "kubernetes.io/metadata.name"  # the API server sets it on every Namespace
EVAL_ERROR = "evaluation error (failurePolicy Fail denies)"


def resource_of(kind: str) -> str:
    """The plural resource name of a kind, as resourceRules spell it (Deployment -> deployments)."""
    low = kind.lower()
    if low.endswith("y") and not low.endswith(("ay", "ey", "oy")):
        return low[:-1] + "ies"
    if low.endswith(("s", "x", "ch", "sh")):
        return low + "es"
    return low + "s"


def _in(values: list[Any], value: str) -> bool:
    return "*" in values or value in values


def _rule_matches(rule: dict[str, Any], obj: dict[str, Any]) -> bool:
    group, _, version = str(obj.get("apiVersion", "")).rpartition("/")
    resources = [str(r) for r in as_list(rule.get("resources"))]
    # Subresource rules (pods/ephemeralcontainers) do not select the object itself.
    plain = [r for r in resources if "/" not in r or r == "*/*"]
    names = [str(n) for n in as_list(rule.get("resourceNames"))]
    return (
        _in(as_list(rule.get("apiGroups")), group)
        and _in(as_list(rule.get("apiVersions")), version)
        and _in(as_list(rule.get("operations")), "CREATE")
        and any(r in ("*", "*/*") or r == resource_of(str(obj.get("kind", ""))) for r in plain)
        and (not names or str(as_dict(obj.get("metadata")).get("name")) in names)
    )


def selector_matches(selector: Any, labels: dict[str, str]) -> bool:
    """A metav1.LabelSelector; absent or empty selects everything."""
    sel = as_dict(selector)
    if any(labels.get(k) != str(v) for k, v in as_dict(sel.get("matchLabels")).items()):
        return False
    for expr in as_list(sel.get("matchExpressions")):
        key, op, values = str(expr.get("key")), str(expr.get("operator")), [str(v) for v in as_list(expr.get("values"))]
        ok = {
            "In": key in labels and labels[key] in values,
            "NotIn": key not in labels or labels[key] not in values,
            "Exists": key in labels,
            "DoesNotExist": key not in labels,
        }.get(op, False)
        if not ok:
            return False
    return True


def _labels(obj: dict[str, Any] | None) -> dict[str, str]:
    return {str(k): str(v) for k, v in as_dict(as_dict(as_dict(obj).get("metadata")).get("labels")).items()}


def namespace_object(name: str, namespaces: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The rendered Namespace with the label the API server adds; a synthetic one for default, kube-system..."""
    ns = namespaces.get(name) or {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}
    meta = dict(as_dict(ns.get("metadata")))
    meta["labels"] = {**_labels(ns), NS_NAME_LABEL: name}
    return {**ns, "metadata": meta}


def resources_match(match: Any, obj: dict[str, Any], ns_obj: dict[str, Any] | None) -> bool:
    """matchConstraints or a binding's matchResources against one object (ns_obj None: cluster-scoped)."""
    m = as_dict(match)
    rules = as_list(m.get("resourceRules"))
    if rules and not any(_rule_matches(as_dict(r), obj) for r in rules):
        return False
    if any(_rule_matches(as_dict(r), obj) for r in as_list(m.get("excludeResourceRules"))):
        return False
    if not selector_matches(m.get("objectSelector"), _labels(obj)):
        return False
    # A Namespace matches on its own labels; other cluster-scoped objects never skip on the namespace selector.
    target = obj if obj.get("kind") == "Namespace" else ns_obj
    return target is None or selector_matches(m.get("namespaceSelector"), _labels(target))


@dataclass(frozen=True)
class Verdict:
    denied: bool
    messages: tuple[str, ...] = ()
    matched: bool = True  # False: a matchCondition excluded the object


class Policy:
    """One compiled ValidatingAdmissionPolicy and the bindings that apply it."""

    def __init__(self, doc: dict[str, Any], bindings: list[dict[str, Any]]) -> None:
        self.doc = doc
        self.name = str(as_dict(doc.get("metadata")).get("name", "?"))
        spec = as_dict(doc.get("spec"))
        self.spec = spec
        self.bindings = bindings
        self.uses_params = bool(spec.get("paramKind"))
        self.problems: list[str] = []  # compile errors: every object the policy selects is denied for them
        self.conditions = [self._compile(c, "matchConditions") for c in as_list(spec.get("matchConditions"))]
        self.variables = [(str(v.get("name")), self._compile(v, "variables")) for v in as_list(spec.get("variables"))]
        self.validations = [
            (
                self._compile(v, "validations"),
                str(v.get("message") or ""),
                self._compile_text(v.get("messageExpression")),
            )
            for v in as_list(spec.get("validations"))
        ]

    def _compile(self, item: Any, where: str) -> Program | None:
        try:
            return Program(str(as_dict(item).get("expression", "")))
        except CelError as exc:
            self.problems.append(f"{where}: {exc}")
            return None

    def _compile_text(self, expression: Any) -> Program | None:
        return self._compile({"expression": expression}, "messageExpression") if expression else None

    def selects(self, obj: dict[str, Any], ns_obj: dict[str, Any] | None) -> bool:
        """The policy's constraints and at least one binding with validationActions that act (Deny, Warn...)."""
        if not resources_match(self.spec.get("matchConstraints"), obj, ns_obj):
            return False
        return any(resources_match(as_dict(b.get("spec")).get("matchResources"), obj, ns_obj) for b in self.bindings)

    def denies_on_bind(self) -> bool:
        """Whether any binding denies (validationActions Deny); Warn/Audit-only bindings only report."""
        return any("Deny" in as_list(as_dict(b.get("spec")).get("validationActions")) for b in self.bindings)

    def evaluate(self, obj: dict[str, Any], ns_obj: dict[str, Any] | None) -> Verdict:
        if self.problems:
            return Verdict(True, tuple(f"{EVAL_ERROR}: {p}" for p in self.problems))
        meta = as_dict(obj.get("metadata"))
        request = {
            "operation": "CREATE",
            "kind": {"kind": obj.get("kind"), "version": str(obj.get("apiVersion", "")).rpartition("/")[2]},
            "name": meta.get("name"),
            "namespace": meta.get("namespace"),
        }
        act: dict[str, Any] = {
            "object": to_cel(obj),
            "oldObject": None,
            "params": None,
            "request": to_cel(request),
            "namespaceObject": to_cel(ns_obj) if ns_obj is not None else None,
        }
        try:
            for cond in self.conditions:
                if cond is not None and not bool(cond.evaluate(act)):
                    return Verdict(False, matched=False)
            variables: dict[str, Any] = {}
            for name, program in self.variables:
                act["variables"] = _as_map(variables)  # a variable may use the ones before it
                if program is not None:
                    variables[name] = program.evaluate(act)
            act["variables"] = _as_map(variables)
        except CelError as exc:
            return Verdict(True, (f"{EVAL_ERROR}: {exc}",))
        messages = []
        for program, message, message_program in self.validations:
            try:
                ok = program is not None and bool(program.evaluate(act))
            except CelError as exc:
                messages.append(f"{EVAL_ERROR}: {exc}")
                continue
            if not ok:
                messages.append(self._message(act, message, message_program, program))
        return Verdict(bool(messages), tuple(messages))

    @staticmethod
    def _message(act: dict[str, Any], message: str, message_program: Program | None, program: Program | None) -> str:
        if message_program is not None:
            try:
                return str(message_program.evaluate(act))
            except CelError:
                pass  # the API server falls back to `message` when messageExpression fails
        return message or f"failed expression: {program.expression if program else '?'}"


def _as_map(values: dict[str, Any]) -> Any:
    from celpy import celtypes  # local: only the variables map needs the CEL map type

    return celtypes.MapType({celtypes.StringType(k): v for k, v in values.items()})


def load_policies(docs: list[dict[str, Any]]) -> list[Policy]:
    """Every v1 ValidatingAdmissionPolicy in `docs` with the bindings that name it."""
    bindings: dict[str, list[dict[str, Any]]] = {}
    for doc in docs:
        if doc.get("kind") == "ValidatingAdmissionPolicyBinding":
            name = str(as_dict(doc.get("spec")).get("policyName"))
            bindings.setdefault(name, []).append(doc)
    return [
        Policy(doc, bindings.get(str(as_dict(doc.get("metadata")).get("name")), []))
        for doc in docs
        if doc.get("kind") == "ValidatingAdmissionPolicy" and str(doc.get("apiVersion", "")).startswith(VAP_GROUP)
    ]
