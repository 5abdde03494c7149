"""IAM's size limits, checked before an apply meets them: each policy that reaches IAM, rendered as AWS counts it.

IAM refuses a policy over its limit (LimitExceeded, "Cannot exceed quota for PolicySize") and only at apply time,
after the rest of the stack changed. The limits (AWS IAM quotas; white space is not counted): a managed policy
(`aws_iam_policy.policy`) 6,144 characters, a role's inline policies (`aws_iam_role_policy.policy`) 10,240
together, a role trust policy (`aws_iam_role.assume_role_policy`) 2,048 unless a quota increase is asked for.

Each sink's value is traced (through module variables into the callers) to where it is written: a
`data "aws_iam_policy_document"`, a `file("....json")` or a `jsonencode(...)`. A policy document is rendered as
the provider renders it (a one-element list becomes a string) with compact JSON. References are filled in where
the HCL says what they are (variables, locals); the partition as "aws", the account id as 12 digits, a region
as its variable's default; any other reference (another resource's ARN) counts as UNKNOWN_REFERENCE_CHARS, an
overestimate for the ARNs here. Over the limit is an error; over WARN_FRACTION of it, a warning.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fleet.terraform_hcl import REF_RE, Block, TfDir, TfTree, decode_embedded

MANAGED_POLICY_LIMIT = 6144
INLINE_POLICIES_LIMIT = 10240  # per role, all inline policies together
TRUST_POLICY_LIMIT = 2048  # the default quota; AWS raises it to 4,096 on request
WARN_FRACTION = 0.9
UNKNOWN_REFERENCE_CHARS = 64
# (resource type, attribute) -> (kind of policy, IAM's limit for it)
SINKS = {
    ("aws_iam_policy", "policy"): ("managed policy", MANAGED_POLICY_LIMIT),
    ("aws_iam_role_policy", "policy"): ("inline policy", INLINE_POLICIES_LIMIT),
    ("aws_iam_role", "assume_role_policy"): ("trust policy", TRUST_POLICY_LIMIT),
}
KNOWN_DATA = {
    re.compile(r"^data\.aws_partition\.[\w-]+\.partition$"): "aws",
    re.compile(r"^data\.aws_caller_identity\.[\w-]+\.account_id$"): "123456789012",
}
DOC_REF = re.compile(r"^\$\{data\.aws_iam_policy_document\.([\w-]+)\.json\}$")
FILE_REF = re.compile(r"""^\$\{file\("(?:\$\{path\.module\}/)?([^"$]+)"\)\}$""")
INTERPOLATION = re.compile(r"\$\{([^{}]*)\}")
STATEMENT_KEYS = (
    ("sid", "Sid"),
    ("effect", "Effect"),
    ("actions", "Action"),
    ("not_actions", "NotAction"),
    ("resources", "Resource"),
    ("not_resources", "NotResource"),
)


@dataclass
class Sized:
    chars: int
    unknown: int  # references counted as UNKNOWN_REFERENCE_CHARS
    source: str


class _Renderer:
    def __init__(self, tree: TfTree, tf_dir: TfDir) -> None:
        self.tree, self.tf_dir, self.unknown = tree, tf_dir, 0

    def text(self, value: Any, depth: int = 0) -> str:
        """A string with every ${...} filled in as far as the HCL tells."""
        if not isinstance(value, str):
            return json.dumps(value)

        def fill(match: re.Match[str]) -> str:
            inner = match.group(1).strip()
            for pattern, known in KNOWN_DATA.items():
                if pattern.match(inner):
                    return known
            if REF_RE.match(f"${{{inner}}}") and depth < 8:
                traced = self.tree.trace(f"${{{inner}}}", self.tf_dir)
                if traced and traced[0].resolved and isinstance(traced[0].value, str):
                    return self.text(traced[0].value, depth + 1)
            self.unknown += 1
            return "x" * UNKNOWN_REFERENCE_CHARS

        previous = None
        while previous != value and "${" in value:
            previous, value = value, INTERPOLATION.sub(fill, value)
        return value

    def strings(self, value: Any) -> list[str]:
        """A list attribute's items: traced references, and expressions such as concat(local.a, ["b"])."""
        if isinstance(value, list):
            return [s for item in value for s in self.strings(item)]
        if isinstance(value, str) and REF_RE.match(value):
            traced = self.tree.trace(value, self.tf_dir)
            if traced and traced[0].resolved and not isinstance(traced[0].value, str):
                return self.strings(traced[0].value)
        elif isinstance(value, str) and INTERPOLATION.fullmatch(value):
            # One expression, such as concat(local.a, ["b"]): the strings it is made of, each filled in.
            found, unreadable = self.tree.expand_strings(value, self.tf_dir)
            self.unknown += len(unreadable)
            return [self.text(s) for s in found] + ["x" * UNKNOWN_REFERENCE_CHARS] * len(unreadable)
        return [self.text(value)]

    def one_or_list(self, value: Any) -> Any:
        items = self.strings(value)
        return items[0] if len(items) == 1 else items

    def statement(self, body: dict[str, Any]) -> dict[str, Any]:
        rendered: dict[str, Any] = {}
        for hcl_key, json_key in STATEMENT_KEYS:
            if hcl_key in body:
                rendered[json_key] = (
                    self.text(body[hcl_key]) if hcl_key in ("sid", "effect") else self.one_or_list(body[hcl_key])
                )
        rendered.setdefault("Effect", "Allow")
        for hcl_key, json_key in (("principals", "Principal"), ("not_principals", "NotPrincipal")):
            blocks = [b for b in body.get(hcl_key, []) if isinstance(b, dict)]
            if blocks:
                rendered[json_key] = {
                    self.text(b.get("type")): self.one_or_list(b.get("identifiers", [])) for b in blocks
                }
        conditions: dict[str, dict[str, Any]] = {}
        for block in [b for b in body.get("condition", []) if isinstance(b, dict)]:
            test = conditions.setdefault(self.text(block.get("test")), {})
            test[self.text(block.get("variable"))] = self.one_or_list(block.get("values", []))
        if conditions:
            rendered["Condition"] = conditions
        return rendered

    def document(self, body: dict[str, Any]) -> str:
        statements = [self.statement(s) for s in body.get("statement", []) if isinstance(s, dict)]
        return _compact({"Version": "2012-10-17", "Statement": statements})


def _compact(document: Any) -> str:
    return json.dumps(document, separators=(",", ":"))


def _size(tree: TfTree, tf_dir: TfDir, value: Any) -> Sized | None:
    """The size of the policy a traced value is, or None when it is not one we can read."""
    if not isinstance(value, str):
        return None
    doc = DOC_REF.match(value)
    if doc:
        block = next((b for b in tf_dir.of("data", "aws_iam_policy_document") if b.labels[1] == doc.group(1)), None)
        if block is None:
            return None
        renderer = _Renderer(tree, tf_dir)
        return Sized(len(renderer.document(block.body)), renderer.unknown, block.where)
    file_ref = FILE_REF.match(value)
    if file_ref:
        path = tf_dir.path / file_ref.group(1)
        try:
            text = _compact(json.loads(path.read_text(encoding="utf-8")))
        except (OSError, json.JSONDecodeError):
            return None
        return Sized(len(text), 0, str(Path(tf_dir.rel) / file_ref.group(1)))
    decoded = decode_embedded(value)
    if isinstance(decoded, dict):
        renderer = _Renderer(tree, tf_dir)
        return Sized(len(renderer.text(_compact(decoded))), renderer.unknown, f"jsonencode in {tf_dir.rel}")
    return None


def _sink_findings(
    tree: TfTree, tf_dir: TfDir, block: Block, attr: str, kind: str, limit: int
) -> tuple[list[str], list[str], int]:
    """(errors, warnings, how many were sized) for each policy that can reach this resource's attribute."""
    errors: list[str] = []
    warnings: list[str] = []
    seen: set[str] = set()
    for traced in tree.trace(block.body[attr], tf_dir):
        home = tree.dirs.get(traced.home) if traced.home else None
        size = _size(tree, home, traced.value) if traced.resolved and home else None
        if size is None or size.source in seen:
            continue
        seen.add(size.source)
        estimate = f", {size.unknown} unknown reference(s) counted as {UNKNOWN_REFERENCE_CHARS}" if size.unknown else ""
        message = f"{block.where}: the {kind} from {size.source} is {size.chars:,} characters{estimate}"
        if size.chars > limit:
            errors.append(f"{message}; IAM's limit is {limit:,}")
        elif size.chars > WARN_FRACTION * limit:
            warnings.append(f"{message}, {size.chars / limit:.0%} of IAM's {limit:,}")
    return errors, warnings, len(seen)


def policy_size_findings(tree: TfTree) -> tuple[list[str], list[str], int]:
    """(errors, warnings, how many policies were sized)."""
    errors: list[str] = []
    warnings: list[str] = []
    sized = 0
    for tf_dir, block in tree.blocks("resource"):
        for (rtype, attr), (kind, limit) in SINKS.items():
            if block.labels[0] == rtype and attr in block.body:
                found, warned, count = _sink_findings(tree, tf_dir, block, attr, kind, limit)
                errors, warnings, sized = errors + found, warnings + warned, sized + count
    return errors, warnings, sized
