"""IAM rules for every policy statement we can read: aws_iam_policy_document statements, jsonencode() and heredoc
policy JSON, module arguments shaped like statements (actions/resources), and committed policies/*.json files.

An Allow statement may not grant "*", "iam:*" or any "<service>:*" (a pattern such as "ec2:Describe*" is fine), may
not use NotAction/NotResource (an allow of everything but a list), and may not put an IAM write action on
Resource "*": that is how the original's CI role could make itself admin (iam:CreateRole, PutRolePolicy,
AttachRolePolicy and PassRole on "*"). Deny statements are not restricted: a boundary denying "iam:*" is the point.
Every action, Allow or Deny, must be a real IAM action (iam_actions.py).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from fleet.terraform_hcl import INFRA_DIR, TfDir, TfTree, decode_embedded, walk
from fleet.validate.iam_actions import SOURCE, action_problem

# The ONE place a "<service>:*" grant may be allowed, each with the reason a reviewer accepted. Empty on purpose.
SERVICE_WILDCARD_ALLOWED: dict[str, str] = {}
ACTION_KEYS = ("Action", "actions")
NOT_KEYS = ("NotAction", "not_actions", "NotResource", "not_resources")
RESOURCE_KEYS = ("Resource", "resources")
EFFECT_KEYS = ("Effect", "effect")
SERVICE_WILDCARD = re.compile(r"^([a-z0-9-]+):\*$")
# IAM verbs that only read; every other iam: action (Create*, Put*, Attach*, PassRole, Tag*, ...) changes IAM.
IAM_READ_VERBS = ("Get", "List", "Simulate", "Generate")
POLICY_WORD = re.compile(r"\bAction\b")


# What a statement's Action/Resource value stands for: (strings, what could not be read).
Expander = Callable[[Any], tuple[list[str], list[str]]]


def json_strings(value: Any) -> tuple[list[str], list[str]]:
    """A JSON policy's Action/Resource: a string or a list of strings (nothing to resolve)."""
    if isinstance(value, str):
        return [value], []
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return list(value), []
    return [], [repr(value)]


def _first(statement: dict[str, Any], keys: tuple[str, ...]) -> Any:
    return next((statement[k] for k in keys if k in statement), None)


def _has(statement: dict[str, Any], keys: tuple[str, ...]) -> bool:
    return any(k in statement for k in keys)


def is_iam_write(action: str) -> bool:
    service, _, verb = action.partition(":")
    return service.lower() == "iam" and not verb.startswith(IAM_READ_VERBS)


def unknown_action_findings(statement: dict[str, Any], label: str, expand: Expander) -> list[str]:
    """Actions (Allow and Deny alike: a misspelt Deny denies nothing) that match no real IAM action."""
    errors = []
    for key in (*ACTION_KEYS, "NotAction", "not_actions"):
        if key in statement:
            for action in expand(statement[key])[0]:
                problem = action_problem(action)
                if problem:
                    errors.append(f'{label}: action "{action}" {problem} ({SOURCE})')
    return errors


def statement_findings(statement: dict[str, Any], where: str, expand: Expander = json_strings) -> list[str]:
    """The rule violations of one statement (a dict with Action/actions)."""
    label = f"{where}: statement {statement.get('Sid') or statement.get('sid') or ''}".rstrip()
    errors = unknown_action_findings(statement, label, expand)
    effect = str(_first(statement, EFFECT_KEYS) or "Allow")
    if effect.lower() != "allow":
        return errors
    for key in NOT_KEYS:
        if key in statement:
            errors.append(f"{label}: Allow with {key} grants everything not listed; list what is allowed instead")
    actions, unreadable = expand(_first(statement, ACTION_KEYS)) if _has(statement, ACTION_KEYS) else ([], [])
    resources, bad = expand(_first(statement, RESOURCE_KEYS)) if _has(statement, RESOURCE_KEYS) else ([], [])
    for value in unreadable + bad:
        errors.append(f"{label}: cannot read {value} to check it (an unread IAM action or resource is no pass)")
    for action in actions:
        wildcard = SERVICE_WILDCARD.match(action)
        if action == "*":
            errors.append(f'{label}: Action "*" grants every action; list the actions')
        elif wildcard and wildcard.group(1) not in SERVICE_WILDCARD_ALLOWED:
            errors.append(f'{label}: Action "{action}" grants every {wildcard.group(1)} action; list the actions')
    if "*" in resources:
        writes = sorted({a for a in actions if is_iam_write(a) or a == "*"})
        if writes:
            errors.append(
                f'{label}: IAM write action(s) {", ".join(writes)} on Resource "*"; scope them to named ARNs '
                "(a role that may create roles, attach policies or pass any role can make itself admin)"
            )
    return errors


def statements(value: Any) -> Iterator[dict[str, Any]]:
    """Every dict inside `value` that carries an action list."""
    for item in walk(value):
        if isinstance(item, dict) and any(k in item for k in (*ACTION_KEYS, "NotAction", "not_actions")):
            yield item


def hcl_iam_findings(tree: TfTree) -> tuple[list[str], int]:
    """Findings over every block of every .tf file, and how many statements were looked at."""
    errors: list[str] = []
    count = 0
    for tf_dir in tree.dirs.values():
        for block in tf_dir.blocks:

            def expand(value: Any, tf_dir: TfDir = tf_dir) -> tuple[list[str], list[str]]:
                return tree.expand_strings(value, tf_dir)

            for statement in statements(block.body):
                count += 1
                errors += statement_findings(statement, block.where, expand)
            for text in unreadable_policies(block.body):
                errors.append(f"{block.where}: cannot read the policy in {_short(text)} (an unread policy is no pass)")
    return errors, count


def unreadable_policies(value: Any) -> list[str]:
    """Policy-looking jsonencode()/heredoc text that decode_embedded cannot read (a merge() around it), and a
    Statement written as an expression (a for expression, concat()): statements no rule here would see."""
    found: list[str] = []
    for item in walk(value):
        if isinstance(item, dict) and isinstance(item.get("Statement"), str):
            found.append(f"Statement = {item['Statement']}")
        elif isinstance(item, str) and ("jsonencode(" in item or item.startswith("<<")) and POLICY_WORD.search(item):
            found += [item] if decode_embedded(item) is None else []
    return found


def _short(text: str) -> str:
    return text if len(text) <= 80 else text[:77] + "..."


def policy_file_findings(root: Path) -> tuple[list[str], int]:
    """Findings over committed infrastructure/**/policies/*.json, and how many files were read."""
    errors: list[str] = []
    files = sorted((root / INFRA_DIR).glob("**/policies/*.json")) if (root / INFRA_DIR).is_dir() else []
    for path in files:
        rel = str(path.relative_to(root))
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            errors.append(f"{rel}: not a JSON policy document: {exc}")
            continue
        found = list(statements(document))
        if not found:
            errors.append(f"{rel}: no Statement with an Action in it")
        for statement in found:
            errors += statement_findings(statement, rel)
    return errors, len(files)
