"""The human rendering of a pre-destroy report (`--json` prints `Report.to_json` instead)."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from fleet.predestroy.model import AwsResource, Report, Target


def _table(title: str, *columns: str) -> Table:
    table = Table(title=title, title_justify="left")
    for name in columns:
        # Names and ids stay whole so they can be copied; the explanations wrap.
        table.add_column(name, no_wrap=name in ("kind", "object"), overflow="fold")
    return table


def _resources(resources: list[AwsResource]) -> str:
    return "\n".join(f"{r.kind} {r.name} ({r.found_by})" for r in resources) or "-"


def _notes(target: Target) -> str:
    held = [f"held by pod {pod} (pvc-protection)" for pod in target.held_by]
    state = ["Terminating"] if target.terminating else []
    return "\n".join(state + held + target.notes)


def render(console: Console, report: Report) -> None:
    where = f"EKS cluster [bold]{report.cluster}[/] in {report.region}"
    if report.cluster_gone:
        console.print(f"{where} is gone: nothing to do in Kubernetes. Next: fleet cleanup --apply.")
        return
    if report.cluster_status is None:
        console.print("[red]Stopped by an error before the cluster could be checked (on stderr).[/]")
        return
    console.print(f"{where}: {report.cluster_status}, endpoint {report.eks_endpoint or '-'}")
    if report.kube_server:
        console.print(f"kubeconfig context {report.kube_context}: {report.kube_server}")
    if report.refused:
        console.print("[bold red]Refused:[/] the kubeconfig is not this cluster's. Nothing was changed.")
        return
    if report.error:
        console.print("[red]Stopped by an error (on stderr): what is listed below is incomplete.[/]")
    for kind in report.not_installed:
        console.print(f"not installed (no CRD served): {kind}: nothing to do for it")
    if report.suspend:
        table = _table("Flux objects (suspend spec.suspend=true)", "kind", "object", "state")
        for flux in report.suspend:
            table.add_row(
                flux.kind, f"{flux.namespace}/{flux.name}", "already suspended" if flux.suspended else "active"
            )
        console.print(table)
    if report.delete:
        table = _table("Objects to delete, and the AWS resources they own", "kind", "object", "AWS", "notes")
        for target in report.delete:
            table.add_row(target.kind, f"{target.namespace}/{target.name}", _resources(target.aws), _notes(target))
        console.print(table)
    if report.actions:
        table = _table("--apply", "verb", "object", "result")
        for action in report.actions:
            table.add_row(action.verb, action.object, action.result)
        console.print(table)
    if report.remaining or report.remaining_aws:
        table = _table(f"Still there after {report.waited_seconds}s (--timeout)", "kind", "object", "notes")
        for target in report.remaining:
            table.add_row(target.kind, f"{target.namespace}/{target.name}", _notes(target))
        for resource in report.remaining_aws:
            table.add_row(resource.kind, resource.id, f"{resource.name}, owned by {resource.owner}")
        console.print(table)
    _summary(console, report)


def _summary(console: Console, report: Report) -> None:
    if report.error:
        return
    if not report.applied:
        if report.has_work:
            console.print(
                f"Dry run: would suspend {len(report.to_suspend)} and delete {len(report.delete)} object(s);"
                " nothing changed. Rerun with --apply."
            )
            held = [t.label for t in report.delete if t.held_by]
            if held:
                console.print(
                    f"{len(held)} PVC(s) are mounted by running pods: --apply cannot finish until those workloads"
                    " are scaled down (pre-destroy never deletes workloads)."
                )
        else:
            console.print("Nothing to suspend or delete.")
    elif report.remaining or report.remaining_aws:
        console.print("[bold red]Incomplete:[/] the above is still there; terraform destroy would strand it.")
    else:
        console.print(f"Done in {report.waited_seconds}s: nothing left. Next: terraform destroy.")
