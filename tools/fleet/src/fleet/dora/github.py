"""Turn `gh api` output into DORA events.

Inputs (all plain `gh api` output, optionally with `--paginate --slurp`):

- deployments: `gh api repos/O/R/deployments` and, per deployment, `gh api repos/O/R/deployments/ID/statuses`
  saved as `DIR/ID.json`. The deployment's outcome is its latest `success`, `failure` or `error` status, and
  `deployed_at` is that status's `created_at`. Deployments with only pending/queued/in_progress/inactive
  statuses have not finished and are skipped.
- workflow runs: `gh api repos/O/R/actions/runs` (optionally filtered to the deploy workflow and branch). A
  completed run with conclusion `success` is a successful deployment, `failure` or `timed_out` a failed one;
  cancelled, skipped and other conclusions are not deployments. `deployed_at` is `updated_at` (the API has
  no completion time) and `commit_at` is `head_commit.timestamp`.
- commits: `gh api repos/O/R/commits` gives `commit` events (time = `commit.committer.date`, which for a
  squash or rebase merge is when the change landed on the branch).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from fleet.dora.events import Commit, Deployment, EventsError

M = TypeVar("M", bound=BaseModel)

TERMINAL = {"success": "success", "failure": "failure", "error": "failure"}
RUN_OUTCOME = {"success": "success", "failure": "failure", "timed_out": "failure"}


@dataclass
class Conversion:
    """The events produced and, for each skipped input, why (reported so nothing disappears silently)."""

    events: list[Any] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


def read_gh_json(path: Path) -> list[Any]:
    """Read `gh api` output: one JSON document, or several concatenated (`--paginate` without `--slurp`).

    Returns the documents' items: arrays are flattened (one level per `--slurp` wrapper) and objects kept.
    """
    try:
        text = Path(path).read_text()
    except OSError as exc:
        raise EventsError(f"{path}: cannot read: {exc.strerror or exc}") from None
    decoder = json.JSONDecoder()
    documents: list[Any] = []
    index = 0
    while index < len(text):
        if text[index].isspace():
            index += 1
            continue
        try:
            document, index = decoder.raw_decode(text, index)
        except json.JSONDecodeError as exc:
            raise EventsError(f"{path}: not JSON: {exc}") from None
        documents.append(document)
    return list(_flatten(documents))


def _flatten(items: Iterable[Any]) -> Iterator[Any]:
    for item in items:
        if isinstance(item, list):
            yield from _flatten(item)
        else:
            yield item


def build(model: type[M], what: str, **fields: Any) -> M:
    """Construct an event, turning a validation error into an EventsError that names the input."""
    try:
        return model(**fields)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())
        raise EventsError(f"{what}: {problems}") from None


def _need(obj: Any, key: str, what: str) -> Any:
    if not isinstance(obj, dict) or obj.get(key) in (None, ""):
        raise EventsError(f"{what}: field {key!r} is missing; is this `gh api` output?")
    return obj[key]


def from_deployments(deployments_file: Path, statuses_dir: Path, environment: str | None = None) -> Conversion:
    out = Conversion()
    for item in read_gh_json(deployments_file):
        deployment_id = _need(item, "id", f"{deployments_file}: deployment")
        env = item.get("environment") or "production"
        if environment and env != environment:
            continue
        status_file = Path(statuses_dir) / f"{deployment_id}.json"
        if not status_file.exists():
            out.skipped.append(f"deployment {deployment_id}: no statuses file {status_file}")
            continue
        statuses = [s for s in read_gh_json(status_file) if s.get("state") in TERMINAL]
        if not statuses:
            out.skipped.append(f"deployment {deployment_id}: not finished (no success/failure/error status)")
            continue
        final = max(statuses, key=lambda s: str(_need(s, "created_at", f"{status_file}: status")))
        out.events.append(
            build(
                Deployment,
                f"{status_file}",
                type="deployment",
                id=f"gh-deployment-{deployment_id}",
                environment=env,
                status=TERMINAL[final["state"]],
                deployed_at=final["created_at"],
                sha=item.get("sha"),
                source="github-deployments",
                url=final.get("log_url") or final.get("target_url") or item.get("url"),
            )
        )
    return out


def from_workflow_runs(
    runs_file: Path, environment: str, workflow: str | None = None, branch: str | None = None
) -> Conversion:
    out = Conversion()
    for page in read_gh_json(runs_file):
        runs: list[Any] = page["workflow_runs"] if isinstance(page, dict) and "workflow_runs" in page else [page]
        for run in runs:
            run_id = _need(run, "id", f"{runs_file}: workflow run")
            if workflow and workflow not in (run.get("name"), run.get("path"), Path(run.get("path", "")).name):
                continue
            if branch and run.get("head_branch") != branch:
                continue
            conclusion = run.get("conclusion")
            if run.get("status") != "completed" or conclusion not in RUN_OUTCOME:
                out.skipped.append(f"run {run_id}: {run.get('status')}/{conclusion}, not a finished deployment")
                continue
            head = run.get("head_commit") or {}
            out.events.append(
                build(
                    Deployment,
                    f"{runs_file}: run {run_id}",
                    type="deployment",
                    id=f"gh-run-{run_id}",
                    environment=environment,
                    status=RUN_OUTCOME[conclusion],
                    deployed_at=_need(run, "updated_at", f"{runs_file}: run {run_id}"),
                    sha=run.get("head_sha"),
                    commit_at=head.get("timestamp"),
                    source="github-actions",
                    url=run.get("html_url"),
                )
            )
    return out


def from_commits(commits_file: Path) -> Conversion:
    out = Conversion()
    for item in read_gh_json(commits_file):
        sha = _need(item, "sha", f"{commits_file}: commit")
        details = item.get("commit") or {}
        when = (details.get("committer") or {}).get("date") or (details.get("author") or {}).get("date")
        if not when:
            out.skipped.append(f"commit {sha}: no committer or author date")
            continue
        out.events.append(build(Commit, f"{commits_file}: commit {sha}", type="commit", sha=sha, at=when))
    return out
