"""The Terraform rules of `workflow-invariants`, across all workflows.

A job is classified by what its scripts run: `terraform destroy` (or `apply -destroy`) is a destroy, `terraform
apply` with `flux bootstrap` a rebuild, `terraform apply` an apply, and `terraform plan` alone a plan. Then:

- apply, destroy and rebuild jobs run in a GitHub environment, assume the apply role (vars.AWS_APPLY_ROLE_ARN), and
  for each environment E they can take, their concurrency group is `infra-E` with `cancel-in-progress: false`, so
  the three queue behind each other on one cluster's state and none is cancelled half-way;
- a plan job assumes the plan role (vars.AWS_PLAN_ROLE_ARN) and never the apply role;
- a job that assumes the apply role is one of the three above and has an environment (the role trusts only those);
- the set is complete: a plan, and for every environment an apply has, a destroy and a rebuild too.

Environment and group are often expressions. They are expanded jointly over what they can be: `matrix.X` over the
job's matrix list, `inputs.X` over a choice input's options and over "not given" (a scheduled run has no inputs),
`inputs.X || 'lit'` falling back to the literal. Anything else cannot be checked and is a finding.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from enum import StrEnum

from fleet.validate.workflows_files import ActionsFile, YamlMap, as_list, as_map
from fleet.validate.workflows_rules import EXPRESSION

PLAN_ROLE = "${{ vars.AWS_PLAN_ROLE_ARN }}"
APPLY_ROLE = "${{ vars.AWS_APPLY_ROLE_ARN }}"
CONFIGURE_AWS = "aws-actions/configure-aws-credentials@"
TERRAFORM = re.compile(r"\bterraform\s+(?:-chdir=\S+\s+)?(apply|destroy|plan)\b([^\n]*)")
FLUX_BOOTSTRAP = re.compile(r"\bflux\s+bootstrap\b")
REFERENCE = re.compile(r"^\s*(?P<ref>(?:inputs|matrix)\.[A-Za-z_][\w-]*)\s*(?:\|\|\s*'(?P<fallback>[^']*)'\s*)?$")
LITERAL = re.compile(r"^\s*'(?P<lit>[^']*)'\s*$")


class Kind(StrEnum):
    PLAN = "plan"
    APPLY = "apply"
    DESTROY = "destroy"
    REBUILD = "rebuild"


MUTATING = (Kind.APPLY, Kind.DESTROY, Kind.REBUILD)


@dataclass(frozen=True)
class InfraJob:
    file: ActionsFile
    job_id: str
    job: YamlMap
    kind: Kind | None
    roles: tuple[str, ...]  # role-to-assume values, whitespace-normalised

    @property
    def where(self) -> str:
        return f"{self.file.rel}: job {self.job_id}"


def _normalise(value: object) -> str:
    return re.sub(r"\$\{\{\s*(.*?)\s*\}\}", r"${{ \1 }}", str(value)).strip()


def classify(f: ActionsFile, job_id: str, job: YamlMap) -> InfraJob:
    scripts = "\n".join(str(s["run"]) for s in f.steps(job) if isinstance(s.get("run"), str))
    verbs = set()
    for verb, rest in TERRAFORM.findall(scripts):
        verbs.add("destroy" if verb == "apply" and "-destroy" in rest else verb)
    kind: Kind | None = None
    if "destroy" in verbs:
        kind = Kind.DESTROY
    elif "apply" in verbs:
        kind = Kind.REBUILD if FLUX_BOOTSTRAP.search(scripts) else Kind.APPLY
    elif "plan" in verbs:
        kind = Kind.PLAN
    roles = tuple(
        _normalise(as_map(s.get("with")).get("role-to-assume"))
        for s in f.steps(job)
        if str(s.get("uses", "")).startswith(CONFIGURE_AWS) and "role-to-assume" in as_map(s.get("with"))
    )
    return InfraJob(f, job_id, job, kind, roles)


def _domain(ref: str, f: ActionsFile, job: YamlMap) -> list[str | None] | None:
    """What a reference can be; None when it cannot be enumerated."""
    scope, _, name = ref.partition(".")
    if scope == "matrix":
        values: list[str | None] = [
            str(v) for v in as_list(as_map(as_map(job.get("strategy")).get("matrix")).get(name))
        ]
        return values or None
    spec = as_map(as_map(as_map(f.triggers().get("workflow_dispatch")).get("inputs")).get(name))
    options: list[str | None] = [str(o) for o in as_list(spec.get("options"))]
    if not options:
        return None
    # Only a workflow started by hand has inputs: on any other trigger the reference is empty.
    return [*options, None] if len(f.triggers()) > 1 else options


def expand(templates: list[str], f: ActionsFile, job: YamlMap) -> tuple[list[tuple[str, ...]], str | None]:
    """Every joint rendering of the templates, or a reason they cannot be expanded."""
    refs: dict[str, list[str | None]] = {}
    for template in templates:
        for expr in EXPRESSION.findall(template):
            if LITERAL.match(expr):
                continue
            match = REFERENCE.match(expr)
            domain = _domain(match["ref"], f, job) if match else None
            if match is None or domain is None:
                return (
                    [],
                    f"cannot tell what `${{{{{expr.strip()}}}}}` is: use a literal, a matrix list or a choice input",
                )
            refs[match["ref"]] = domain

    def render(template: str, values: dict[str, str | None]) -> str:
        def one(m: re.Match[str]) -> str:
            expr = m.group(1)
            if lit := LITERAL.match(expr):
                return lit["lit"]
            ref = REFERENCE.match(expr)
            assert ref is not None  # every expression was matched above
            value = values[ref["ref"]]
            return value if value is not None else (ref["fallback"] or "")

        return EXPRESSION.sub(one, template)

    names = sorted(refs)
    renderings = []
    for combo in itertools.product(*(refs[n] for n in names)):
        values = dict(zip(names, combo, strict=True))
        renderings.append(tuple(render(t, values) for t in templates))
    return sorted(set(renderings)), None


def _environment(job: YamlMap) -> str | None:
    env = job.get("environment")
    if isinstance(env, dict):
        env = as_map(env).get("name")
    return str(env) if env is not None else None


def _concurrency(f: ActionsFile, job: YamlMap) -> tuple[str | None, object]:
    raw = job.get("concurrency", f.doc.get("concurrency"))
    if isinstance(raw, str):
        return raw, None
    spec = as_map(raw)
    return (str(spec["group"]) if "group" in spec else None), spec.get("cancel-in-progress")


def mutating_findings(j: InfraJob) -> tuple[list[str], dict[str, str]]:
    """Findings for an apply, destroy or rebuild job, and environment -> concurrency group for the ones it serves."""
    errors: list[str] = []
    if APPLY_ROLE not in j.roles:
        errors.append(f"{j.where} ({j.kind}) does not assume the apply role {APPLY_ROLE}")
    environment = _environment(j.job)
    group, cancel = _concurrency(j.file, j.job)
    if environment is None:
        errors.append(f"{j.where} ({j.kind}) has no `environment:`: the apply role is trusted only from one")
    if group is None:
        errors.append(f"{j.where} ({j.kind}) has no concurrency group: it could overlap an apply or destroy")
    if cancel is not False:
        errors.append(f"{j.where} ({j.kind}): cancel-in-progress must be false (a cancelled apply leaves a lock)")
    if environment is None or group is None:
        return errors, {}
    renderings, problem = expand([environment, group], j.file, j.job)
    if problem:
        return [*errors, f"{j.where}: {problem}"], {}
    served: dict[str, str] = {}
    for env, grp in renderings:
        if not env:
            errors.append(f"{j.where} ({j.kind}): the environment is empty when the input is not given")
        elif grp != f"infra-{env}":
            errors.append(f"{j.where} ({j.kind}) for {env} uses concurrency group {grp!r}, not 'infra-{env}'")
        else:
            served[env] = grp
    return errors, served


def infra_findings(files: list[ActionsFile], require: bool) -> tuple[list[str], int]:
    """Findings across every workflow, and how many Terraform jobs were looked at. With `require` (the repository
    has Terraform), a missing plan, apply, destroy or rebuild is a finding even when no workflow touches Terraform."""
    jobs = [classify(f, job_id, job) for f in files if f.is_workflow and not f.problem for job_id, job in f.jobs()]
    errors: list[str] = []
    served: dict[Kind, set[str]] = {k: set() for k in MUTATING}
    for j in jobs:
        if j.kind == Kind.PLAN:
            if PLAN_ROLE not in j.roles:
                errors.append(f"{j.where} (plan) does not assume the plan role {PLAN_ROLE}")
            if APPLY_ROLE in j.roles:
                errors.append(f"{j.where} (plan) assumes the apply role: a pull request must never hold it")
        elif j.kind in MUTATING:
            found, envs = mutating_findings(j)
            errors += found
            served[j.kind] |= set(envs)
        elif APPLY_ROLE in j.roles:
            errors.append(f"{j.where} assumes the apply role but runs no terraform apply or destroy")
    infra = [j for j in jobs if j.kind is not None]
    require = require or bool(infra)
    if require and not any(j.kind == Kind.PLAN for j in infra):
        errors.append("no workflow job runs `terraform plan` with the plan role (pull request plans)")
    for kind in MUTATING:
        if require and not any(j.kind == kind for j in infra):
            errors.append(f"no workflow job is a Terraform {kind}")
    for env in sorted(served[Kind.APPLY]):
        for kind in (Kind.DESTROY, Kind.REBUILD):
            if served[kind] and env not in served[kind]:
                errors.append(f"{env} has an apply job but no {kind} job in group infra-{env}")
    return errors, len(infra)
