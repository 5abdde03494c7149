"""`fleet pre-destroy`: the Kubernetes-side phase of the destroy workflow, run while the cluster is still alive.

Order of the destroy workflow: `fleet pre-destroy --apply`, `terraform destroy`, `fleet cleanup --apply`.
"""

from __future__ import annotations

import re

import typer

from fleet import exits
from fleet.cleanup.aws import Aws, AwsError
from fleet.cleanup.cluster import cluster_status
from fleet.cleanup.command import check_input
from fleet.output import emit, err_console
from fleet.predestroy import kubeconfig
from fleet.predestroy.aws_wait import attach_load_balancers, attach_volumes, load_balancers
from fleet.predestroy.kube import PVC, Kube, KubeError, flux_objects, mark_holders, targets
from fleet.predestroy.model import Action, Report
from fleet.predestroy.render import render
from fleet.predestroy.wait import wait_until_gone

MAX_TIMEOUT = 24 * 3600.0
_DURATION = re.compile(r"^(\d+(?:\.\d+)?)([smh]?)$")
_UNIT_SECONDS = {"": 1, "s": 1, "m": 60, "h": 3600}

HELP = """Before `terraform destroy`: stop Flux and delete what owns AWS resources, then wait until those are gone.

Dry run by default: lists the Flux Kustomizations and HelmReleases it would suspend, and the Gateways,
Ingresses, LoadBalancer Services and PVCs it would delete, each with the load balancers and EBS volumes it owns.
With --apply it suspends Flux (spec.suspend=true), deletes those objects, and waits until they and their AWS
resources are gone, or until --timeout.

It acts only when the kubeconfig's API server is the endpoint EKS reports for --cluster. If the EKS cluster is
already gone there is nothing to do (exit 0).

Exit codes: 0 nothing to do, or everything gone; 1 dry run found work; 2 usage error; 3 invalid --cluster,
--region, --timeout, --kubeconfig or --context; 6 AWS or Kubernetes API error (credentials, RBAC,
unreachable); 7 --timeout reached with objects or AWS resources still there (listed); 8 refused: the
kubeconfig points at another cluster.
"""


def parse_timeout(text: str) -> float:
    match = _DURATION.match(text.strip())
    seconds = float(match.group(1)) * _UNIT_SECONDS[match.group(2)] if match else -1.0
    if not match or seconds > MAX_TIMEOUT:
        exits.die(f"--timeout must be a duration like 90s, 15m or 1h, at most 24h; got {text!r}", exits.BAD_INPUT)
    return seconds


def _say(message: str) -> None:
    err_console.print(f"pre-destroy: {message}", highlight=False)


def pre_destroy_command(
    cluster: str = typer.Option(..., "--cluster", help="EKS cluster name, matched exactly."),
    region: str = typer.Option(..., "--region", help="AWS region of the cluster."),
    kubeconfig_file: str | None = typer.Option(None, "--kubeconfig", help="Default: $KUBECONFIG, ~/.kube/config."),
    context: str | None = typer.Option(None, "--context", help="kubeconfig context (default: the current one)."),
    do_apply: bool = typer.Option(False, "--apply", help="Suspend, delete and wait (default: dry run)."),
    timeout: str = typer.Option("15m", "--timeout", help="How long --apply waits for things to go: 90s, 15m, 1h."),
    endpoint_url: str | None = typer.Option(None, "--endpoint-url", help="AWS endpoint, e.g. a moto_server."),
    poll_interval: float = typer.Option(5.0, "--poll-interval", min=0.01, hidden=True, help="Seconds between polls."),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
) -> None:
    # The same rules as cleanup's, from one place: a valid cluster name and a region that looks like one.
    check_input(cluster, region, account_id=None, issuer=None, do_apply=False)
    timeout_seconds = parse_timeout(timeout)
    report = Report(cluster=cluster, region=region, applied=do_apply)
    try:
        run(report, kubeconfig_file, context, endpoint_url, timeout_seconds, poll_interval)
    except (AwsError, KubeError) as exc:
        report.error = str(exc)
    code = exit_code(report)
    emit(report.to_json(code), lambda console: render(console, report), as_json)
    if report.error or report.refused:
        err_console.print(f"[bold red]error:[/] {report.error or report.refused}", highlight=False)
    raise typer.Exit(code)


pre_destroy_command.__doc__ = HELP


def run(
    report: Report,
    kubeconfig_file: str | None,
    context: str | None,
    endpoint_url: str | None,
    timeout: float,
    poll_interval: float,
) -> None:
    """Fill in `report`; AwsError and KubeError propagate (the caller records them), bad flags exit 3."""
    aws = Aws(report.region, endpoint_url)
    report.cluster_status = cluster_status(aws, report.cluster)
    if report.cluster_status is None:
        return  # nothing in Kubernetes to stop: the cluster, and its API, are gone
    report.eks_endpoint = aws.call(aws.eks, "describe_cluster", name=report.cluster)["cluster"].get("endpoint")
    try:
        target = kubeconfig.load(kubeconfig_file, context)
    except kubeconfig.KubeconfigError as exc:
        exits.die(str(exc), exits.BAD_INPUT)
    report.kube_server, report.kube_context = target.server, target.context
    report.refused = kubeconfig.identity_refusal(report.cluster, report.eks_endpoint, target)
    if report.refused:
        return
    kube = Kube(target.api, target.server)
    report.suspend = flux_objects(kube, report.not_installed)
    found = targets(kube, report.not_installed)
    lbs = load_balancers(aws) if any(t.kind != PVC.kind for t, _ in found) else []
    for item, obj in found:
        if item.kind == PVC.kind:
            volume_name = obj.spec.get("volumeName")
            attach_volumes(aws, report.cluster, item, kube.persistent_volume(volume_name) if volume_name else None)
        else:
            attach_load_balancers(report.cluster, item, obj, lbs)
    report.delete = [item for item, _ in found]
    mark_holders(kube, report.delete)
    if report.applied:
        apply(report, kube, aws, timeout, poll_interval)


def apply(report: Report, kube: Kube, aws: Aws, timeout: float, poll_interval: float) -> None:
    # Suspend first, all of them, before any delete: a Flux controller still reconciling would recreate the
    # Service or PVC seconds after it is deleted, and the load balancer with it.
    for flux in report.to_suspend:
        report.actions.append(Action(verb="suspend", object=flux.label, result=kube.suspend(flux)))
        _say(f"suspended {flux.label}")
    for item in report.delete:
        report.actions.append(Action(verb="delete", object=item.label, result=kube.delete(item)))
        _say(f"deleted {item.label}" + (f" (owns {len(item.aws)} AWS resource(s))" if item.aws else ""))
    with err_console.status("pre-destroy: waiting for the objects and their AWS resources to go"):
        result = wait_until_gone(kube, aws, report.delete, timeout, poll_interval, _say)
    report.remaining, report.remaining_aws = result.remaining, result.remaining_aws
    report.timed_out, report.waited_seconds = result.timed_out, round(result.waited, 1)


def exit_code(report: Report) -> int:
    if report.error:
        return exits.REMOTE_ERROR
    if report.refused:
        return exits.REFUSED
    if report.cluster_gone:
        return exits.OK
    if not report.applied:
        return exits.FINDINGS if report.has_work else exits.OK
    return exits.INCOMPLETE if report.remaining or report.remaining_aws else exits.OK
