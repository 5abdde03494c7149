"""`fleet cleanup`: find (and with --apply delete) what a destroyed EKS cluster left behind."""

from __future__ import annotations

import re

import typer

from fleet import exits
from fleet.cleanup.aws import Aws, AwsError, RetryPolicy
from fleet.cleanup.cluster import cluster_state
from fleet.cleanup.deleters import apply
from fleet.cleanup.finders import discover
from fleet.cleanup.model import Report, Target
from fleet.cleanup.render import render
from fleet.output import emit, err_console

# The fleet-wide codes (fleet/exits.py) this command uses, under the names its logic reads best with.
EXIT_CLEAN = exits.OK
EXIT_ORPHANS_FOUND = exits.FINDINGS
EXIT_BAD_INPUT = exits.BAD_INPUT
EXIT_AWS_ERROR = exits.REMOTE_ERROR
EXIT_INCOMPLETE = exits.INCOMPLETE
EXIT_REFUSED = exits.REFUSED
EXIT_CLUSTER_EXISTS = exits.REFUSED

# EKS cluster names: 1-100 characters, letters, digits, hyphens and underscores, starting alphanumeric.
CLUSTER_NAME = re.compile(r"^[0-9A-Za-z][A-Za-z0-9_-]{0,99}$")
# eu-west-2, us-gov-west-1, cn-northwest-1, ap-southeast-5: a partition-neutral shape, so a region AWS opens
# next year passes, while a typo ("eu-west"), an availability zone ("eu-west-2a") or "EU-WEST-2" does not.
REGION_NAME = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d{1,2}$")
ACCOUNT_ID = re.compile(r"^\d{12}$")
ISSUER_URL = re.compile(r"^https://[A-Za-z0-9.-]+(/[A-Za-z0-9._~/-]*)?$")

HELP = """Find the AWS resources a destroyed EKS cluster left behind, and delete them with --apply.

Looks, in one region, at Karpenter's EC2 instances and launch templates, ALBs/NLBs with their listeners and
target groups, classic ELBs, ENIs, security groups, EBS volumes, the account's own EBS snapshots, Elastic
IPs and CloudWatch log groups, and (IAM is global) at the cluster's OIDC provider and IAM roles. Only
resources whose tags tie them to the cluster count (exact key and value; docs/fleet.md lists the rules),
plus the log group /aws/eks/NAME/cluster and the OIDC provider whose URL is the cluster's issuer. Dry run by
default. Never touches an untagged resource or one tagged for another cluster.

Guards, in this order, before anything is read: --account-id must equal the credentials' account
(sts:GetCallerIdentity), or nothing is read and the run exits 8; --apply requires --account-id. Then EKS is
asked (eks:DescribeCluster): while the cluster exists, in any state, --apply deletes nothing and exits 8. A
dry run still lists what is tagged, and says that --apply would be refused.

Waits (instances terminating, ENIs and volumes detaching, load balancers going) print a line on stderr
whenever a state changes. Throttling, 5xx answers and dropped connections are retried by botocore's
standard mode, up to --retry-attempts tries per call.

Exit codes: 0 nothing left (or everything deleted with --apply); 1 orphans found (dry run); 2 usage error;
3 bad input (cluster name, region, account id, --apply without --account-id, issuer URL); 6 AWS error
(credentials, permissions, throttling after the retries, unreachable endpoint): nothing can be concluded;
7 --apply finished but something is left (blocked, or found again by the re-scan after deleting); 8 refused:
the credentials are for another account, or (--apply) the EKS cluster still exists.
"""


def cleanup_command(
    cluster: str = typer.Option(..., "--cluster", help="EKS cluster name, matched exactly."),
    region: str = typer.Option(..., "--region", help="AWS region (required: a wrong region finds nothing)."),
    do_apply: bool = typer.Option(False, "--apply", help="Delete the orphans (default: dry run)."),
    account_id: str | None = typer.Option(
        None, "--account-id", help="12-digit AWS account the credentials must belong to (required with --apply)."
    ),
    oidc_issuer: str | None = typer.Option(
        None, "--oidc-issuer", help="The deleted cluster's OIDC issuer URL, to find its IAM OIDC provider by URL."
    ),
    endpoint_url: str | None = typer.Option(None, "--endpoint-url", help="AWS endpoint, e.g. a moto_server."),
    retry_attempts: int = typer.Option(8, "--retry-attempts", min=1, help="Tries per AWS call (throttling)."),
    retry_delay: float = typer.Option(
        1.0, "--retry-base-delay", min=0.0, help="First pause, in seconds, while a dependency blocks a delete."
    ),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
) -> None:
    check_input(cluster, region, account_id, oidc_issuer, do_apply)
    policy = RetryPolicy(attempts=retry_attempts, base_delay=retry_delay, max_delay=max(20.0, retry_delay))
    report = Report(cluster=cluster, region=region, applied=do_apply, expected_account=account_id)
    try:
        report = run(Aws(region, endpoint_url, policy), report, oidc_issuer, do_apply)
    except AwsError as exc:
        report.error = str(exc)
    code = exit_code(report)
    emit(report.to_json(code), lambda console: render(console, report), as_json)
    if report.error:
        err_console.print(f"[bold red]error:[/] {report.error}")
    elif report.refused:
        err_console.print(f"[bold red]error:[/] {report.refused}")
    raise typer.Exit(code)


cleanup_command.__doc__ = HELP


def check_input(cluster: str, region: str, account_id: str | None, issuer: str | None, do_apply: bool) -> None:
    """Bad input exits 3 with the flag, the rule and the value, before any AWS call."""
    if not CLUSTER_NAME.match(cluster):
        exits.die(f"--cluster {cluster!r} is not a valid EKS cluster name", EXIT_BAD_INPUT)
    if not REGION_NAME.match(region):
        exits.die(f"--region {region!r} is not an AWS region name (expected e.g. eu-west-2)", EXIT_BAD_INPUT)
    if account_id is not None and not ACCOUNT_ID.match(account_id):
        exits.die(f"--account-id {account_id!r} is not an AWS account id (exactly 12 digits)", EXIT_BAD_INPUT)
    if do_apply and account_id is None:
        exits.die(
            "--apply requires --account-id (the 12-digit account you mean to delete in); a dry run without it"
            " prints the account the credentials belong to",
            EXIT_BAD_INPUT,
        )
    if issuer is not None and not ISSUER_URL.match(issuer):
        exits.die(f"--oidc-issuer {issuer!r} is not an https:// URL", EXIT_BAD_INPUT)


def run(aws: Aws, report: Report, oidc_issuer: str | None, do_apply: bool) -> Report:
    """The guards, then discovery, then (when allowed and asked for) deletion and the re-scan.

    Fills `report` in place, so when an AwsError stops the run the caller's report still holds the account,
    what was found and what was already deleted.
    """
    # Asked before anything else: the wrong account's resources must not even be listed.
    report.account = str(aws.call(aws.sts, "get_caller_identity").get("Account", ""))
    if report.account_mismatch:
        report.refused = account_refusal(report)
        return report
    # Asked next: the answer decides whether --apply may delete at all.
    state = cluster_state(aws, report.cluster)
    target = Target(report.cluster, report.region, oidc_issuer or state.oidc_issuer)
    found = discover(aws, target)
    report.orphans, report.skipped, report.cluster_status = found.orphans, found.skipped, state.status
    if do_apply and state.status is not None:
        report.applied = True
        report.refused = refusal(report.cluster, report.region, state.status)
    elif do_apply:
        apply(aws, report)
        # Trust what AWS shows afterwards, not what the delete calls answered: a controller that is still
        # running recreates what it owns, and a delete can be accepted yet not happen.
        report.remaining = discover(aws, target).orphans
    return report


def account_refusal(report: Report) -> str:
    return (
        f"the AWS credentials are for account {report.account}, not --account-id {report.expected_account}:"
        " nothing was read or deleted (check AWS_PROFILE)"
    )


def refusal(cluster: str, region: str, status: str) -> str:
    return (
        f"EKS cluster {cluster} still exists in {region} (status {status}): the resources tagged for it are live,"
        " so --apply deleted nothing. Delete the cluster first (terraform destroy), then run cleanup again."
    )


def exit_code(report: Report) -> int:
    if report.error:
        return EXIT_AWS_ERROR
    if report.refused:
        return EXIT_REFUSED
    if report.applied:
        return EXIT_INCOMPLETE if report.blocked or report.remaining else EXIT_CLEAN
    return EXIT_ORPHANS_FOUND if report.orphans else EXIT_CLEAN
