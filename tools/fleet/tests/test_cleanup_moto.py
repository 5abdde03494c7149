"""`fleet cleanup` against moto in-process (`mock_aws`): discovery, --apply, and what must survive."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from cleanup_harness import fake_credentials, run_cleanup
from cleanup_seed import Clients, Seeded, existing, seed
from click.testing import Result
from fleet import exits
from moto import mock_aws

REGION = "eu-west-2"
CLUSTER = "staging"
ACCOUNT = "123456789012"  # moto's account


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[Clients]:
    fake_credentials(monkeypatch)
    with mock_aws():
        yield Clients.make(REGION)


@pytest.fixture
def seeded(aws: Clients) -> Seeded:
    return seed(aws, CLUSTER)


@dataclass
class DryRun:
    seeded: Seeded
    code: int
    report: dict[str, Any]
    human: Result
    unchanged: bool


@pytest.fixture(scope="module")
def dry_run() -> DryRun:
    """One seeded account and one dry run (JSON and human), shared by the read-only tests below."""
    with pytest.MonkeyPatch.context() as mp, mock_aws():
        fake_credentials(mp)
        clients = Clients.make(REGION)
        seeded = seed(clients, CLUSTER)
        before = existing(clients)
        code, report = _cleanup()
        human = run_cleanup("--cluster", CLUSTER, "--region", REGION)
        result = DryRun(seeded, code, report, human, existing(clients) == before)
    # The mock is closed before the tests run: a still-open one would leak into the per-test mocks below.
    return result


def _cleanup(*extra: str) -> tuple[int, dict[str, Any]]:
    """A run with --json; with --apply it names the account, as --apply requires."""
    account = ("--account-id", ACCOUNT) if "--apply" in extra else ()
    args = ("--cluster", CLUSTER, "--region", REGION, "--json", "--retry-base-delay", "0", *account, *extra)
    result = run_cleanup(*args)
    return result.exit_code, json.loads(result.stdout)


def _pairs(items: list[dict[str, Any]]) -> set[tuple[str, str]]:
    return {(i["kind"], i["id"]) for i in items}


def test_dry_run_lists_exactly_the_orphans_and_deletes_nothing(dry_run: DryRun) -> None:
    assert dry_run.code == 1, "orphans found in a dry run exit 1 so that CI can alert"
    assert dry_run.report["mode"] == "dry-run"
    assert _pairs(dry_run.report["orphans"]) == dry_run.seeded.orphans
    assert _pairs(dry_run.report["skipped"]) == dry_run.seeded.skipped
    assert dry_run.report["outcomes"] == []
    assert dry_run.unchanged


def test_every_orphan_says_which_tag_matched(dry_run: DryRun) -> None:
    orphans = dry_run.report["orphans"]
    reasons: dict[str, set[str]] = {}
    for o in orphans:
        reasons.setdefault(o["kind"], set()).add(o["reason"])
    owned = f"kubernetes.io/cluster/{CLUSTER}=owned"
    assert reasons["network-interface"] == {f"cluster.k8s.amazonaws.com/name={CLUSTER}"}
    assert reasons["volume"] == {f"{owned} (PVC db/data-postgres-0)", f"{owned} (PVC q/data-0)"}
    assert reasons["elastic-ip"] == {owned}
    assert reasons["instance"] == {owned, f"karpenter.sh/discovery={CLUSTER}"}
    assert reasons["snapshot"] == {f"{owned} (CSI snapshot snapshot-data-0)"}
    assert reasons["classic-load-balancer"] == reasons["launch-template"] == reasons["oidc-provider"] == {owned}
    assert reasons["iam-role"] == {owned, f"eks:cluster-name={CLUSTER}"}
    assert reasons["log-group"] == {owned, "named as EKS names the cluster's control-plane logs"}
    assert all(o["reason"] for o in orphans)
    listener_reasons = [o["reason"] for o in orphans if o["kind"] == "listener"]
    expected = [f"listener of orphan k8s-{CLUSTER}-web", f"listener of orphan {CLUSTER}-svc-nlb"]
    assert sorted(listener_reasons) == expected
    assert f"untagged; serves only orphan {CLUSTER}-svc-nlb" in [o["reason"] for o in orphans]


def test_skipped_resources_explain_why(dry_run: DryRun) -> None:
    why = " | ".join(s["why"] for s in dry_run.report["skipped"])
    assert "attached to i-" in why
    assert "associated" in why
    assert "also tagged for cluster(s) other" in why
    assert f"kubernetes.io/cluster/{CLUSTER}=shared is not an ownership tag for a security-group" in why
    assert "no Karpenter tag (karpenter.sh/nodepool or karpenter.k8s.aws/ec2nodeclass)" in why
    assert "an EKS issuer of us-east-1, not eu-west-2" in why
    assert "trusts the EKS OIDC issuer of us-east-1" in why


def test_human_output_lists_orphans_and_the_dry_run_hint(dry_run: DryRun) -> None:
    assert dry_run.human.exit_code == 1
    assert "Orphans of cluster staging in eu-west-2" in dry_run.human.stdout
    assert "Dry run: nothing deleted" in dry_run.human.stdout


def test_apply_deletes_orphans_and_leaves_lookalikes(aws: Clients, seeded: Seeded) -> None:
    code, report = _cleanup("--apply")
    assert code == 0, report
    assert report["error"] is None
    assert report["cluster_status"] is None
    assert report["remaining"] == []
    assert {(o["kind"], o["id"]) for o in report["outcomes"]} == seeded.orphans
    results = {(o["kind"], o["result"]) for o in report["outcomes"]}
    assert results == {(kind, "terminated" if kind == "instance" else "deleted") for kind, _ in seeded.orphans}
    # Deletion follows the dependency order.
    order = [o["kind"] for o in report["outcomes"]]
    assert order == sorted(order, key=_order_index)

    left = existing(aws)
    assert not (seeded.orphans & left)
    assert seeded.survivors <= left
    assert seeded.skipped <= left
    # The node role went with its links: the instance profile and the managed policy stay, unattached.
    profile = aws.iam.get_instance_profile(InstanceProfileName=f"{CLUSTER}-node-profile")["InstanceProfile"]
    assert profile["Roles"] == []
    (role_outcome,) = [o for o in report["outcomes"] if o["id"] == f"{CLUSTER}-karpenter-node"]
    assert role_outcome["detail"] == (
        "unlinked 1 instance profile(s), detached 1 managed and deleted 1 inline polic(ies)"
    )

    code, report = _cleanup()
    assert code == 0
    assert report["orphans"] == []


def _order_index(kind: str) -> int:
    from fleet.cleanup.model import DELETE_ORDER

    return DELETE_ORDER.index(kind)


def test_other_cluster_is_untouched(aws: Clients, seeded: Seeded) -> None:
    result = run_cleanup("--cluster", "other", "--region", REGION, "--json", "--apply", "--account-id", ACCOUNT)
    report = json.loads(result.stdout)
    deleted = _pairs(report["outcomes"])
    assert result.exit_code == 0, report
    assert not (deleted & (seeded.orphans | seeded.skipped))
    # Only "other"'s own load balancer and volume; the volume tagged for both clusters stays.
    assert deleted <= seeded.survivors
    assert sorted(kind for kind, _ in deleted) == ["load-balancer", "volume"]


def test_security_group_referenced_by_a_foreign_group_is_blocked_not_edited(aws: Clients) -> None:
    ec2 = aws.ec2
    vpc = ec2.create_vpc(CidrBlock="10.1.0.0/16")["Vpc"]["VpcId"]
    orphan = ec2.create_security_group(
        GroupName="orphan",
        Description="x",
        VpcId=vpc,
        TagSpecifications=[
            {"ResourceType": "security-group", "Tags": [{"Key": "elbv2.k8s.aws/cluster", "Value": CLUSTER}]}
        ],
    )["GroupId"]
    foreign = ec2.create_security_group(GroupName="bastion", Description="x", VpcId=vpc)["GroupId"]
    rule = {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "UserIdGroupPairs": [{"GroupId": orphan}]}
    ec2.authorize_security_group_ingress(GroupId=foreign, IpPermissions=[rule])

    code, report = _cleanup("--apply")

    assert code == exits.INCOMPLETE
    (outcome,) = report["outcomes"]
    assert outcome["result"] == "blocked"
    assert foreign in outcome["detail"]
    assert [(o["kind"], o["id"]) for o in report["remaining"]] == [("security-group", orphan)]
    groups = {g["GroupId"]: g for g in ec2.describe_security_groups()["SecurityGroups"]}
    assert orphan in groups
    pairs = groups[foreign]["IpPermissions"][0]["UserIdGroupPairs"]
    assert [p["GroupId"] for p in pairs] == [orphan], "the foreign group's rule must be left as it was"


def test_nothing_tagged_means_exit_zero(aws: Clients) -> None:
    code, report = _cleanup()
    assert code == 0
    assert report["orphans"] == report["skipped"] == []


def test_invalid_cluster_name_is_bad_input_and_a_wrong_flag_is_usage() -> None:
    result = run_cleanup("--cluster", "bad name!", "--region", REGION)
    assert result.exit_code == exits.BAD_INPUT
    assert "--cluster 'bad name!' is not a valid EKS cluster name" in " ".join(result.stderr.split())
    assert run_cleanup("--cluster", CLUSTER, "--region", REGION, "--aply").exit_code == exits.USAGE


# --- the cluster must be gone before anything is deleted ---------------------------------------------------


def _create_cluster(ec2: Any, vpc: str) -> Any:
    eks = boto3.client("eks", region_name=REGION)
    subnets = [s["SubnetId"] for s in ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc]}])["Subnets"]]
    eks.create_cluster(
        name=CLUSTER,
        roleArn="arn:aws:iam::123456789012:role/eks-cluster",
        resourcesVpcConfig={"subnetIds": subnets},
    )
    return eks


def _ids(report: dict[str, Any], kind: str) -> set[str]:
    return {o["id"] for o in report["orphans"] if o["kind"] == kind}


def test_apply_on_an_active_cluster_deletes_nothing_and_says_why(aws: Clients, seeded: Seeded) -> None:
    _create_cluster(aws.ec2, seeded.vpc)
    before = existing(aws)

    args = ("--cluster", CLUSTER, "--region", REGION, "--json", "--apply", "--account-id", ACCOUNT)
    result = run_cleanup(*args)
    report = json.loads(result.stdout)

    assert result.exit_code == exits.REFUSED
    assert report["outcomes"] == []
    assert report["remaining"] == []
    assert report["cluster_status"] == "ACTIVE"
    assert report["apply_allowed"] is False
    stderr = " ".join(result.stderr.split())
    assert f"EKS cluster {CLUSTER} still exists in {REGION} (status ACTIVE)" in stderr
    assert "deleted nothing" in stderr
    # The live ingress load balancer and the cluster's security groups are all still there.
    assert existing(aws) == before
    live = {("load-balancer", a) for a in _ids(report, "load-balancer")}
    live |= {("security-group", g) for g in _ids(report, "security-group")}
    assert len(live) == 4
    assert live <= existing(aws)


def test_dry_run_on_a_live_cluster_lists_but_says_apply_would_be_refused(aws: Clients, seeded: Seeded) -> None:
    _create_cluster(aws.ec2, seeded.vpc)
    human = run_cleanup("--cluster", CLUSTER, "--region", REGION)
    text = " ".join(human.stdout.split())
    assert human.exit_code == exits.FINDINGS
    assert f"EKS cluster {CLUSTER} still exists (status ACTIVE)" in text
    assert "--apply is refused until the cluster is deleted" in text
    assert f"Tagged for live cluster {CLUSTER}" in text
    assert "--apply would be refused" in text
    code, report = _cleanup()
    assert code == exits.FINDINGS
    assert {(o["kind"], o["id"]) for o in report["orphans"]} == seeded.orphans
    assert report["apply_allowed"] is False
    assert report["refused"] is None


def test_apply_proceeds_once_the_cluster_is_deleted(aws: Clients, seeded: Seeded) -> None:
    _create_cluster(aws.ec2, seeded.vpc).delete_cluster(name=CLUSTER)
    code, report = _cleanup("--apply")
    assert code == exits.OK, report
    assert report["cluster_status"] is None
    assert {(o["kind"], o["id"]) for o in report["outcomes"]} == seeded.orphans
    assert not (seeded.orphans & existing(aws))


def test_a_cluster_of_another_name_does_not_block(aws: Clients, seeded: Seeded) -> None:
    boto3.client("eks", region_name=REGION).create_cluster(
        name=f"{CLUSTER}-2", roleArn="arn:aws:iam::123456789012:role/eks", resourcesVpcConfig={"subnetIds": []}
    )
    code, report = _cleanup("--apply")
    assert code == exits.OK, report


def test_rescan_after_apply_reports_what_is_still_there(
    aws: Clients, seeded: Seeded, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A VPC CNI that is still running (a node not yet terminated) creates an ENI while cleanup deletes: the
    delete calls all succeed, but the account is not clean, and the exit code must say so."""
    import fleet.cleanup.command as command

    ec2 = aws.ec2
    subnet = ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [seeded.vpc]}])["Subnets"][0]["SubnetId"]
    real_apply = command.apply
    late: list[str] = []

    def apply_while_a_controller_runs(aws_: Any, report: Any) -> None:
        real_apply(aws_, report)
        tags = [{"Key": "cluster.k8s.amazonaws.com/name", "Value": CLUSTER}]
        eni = ec2.create_network_interface(
            SubnetId=subnet, TagSpecifications=[{"ResourceType": "network-interface", "Tags": tags}]
        )
        late.append(eni["NetworkInterface"]["NetworkInterfaceId"])

    with monkeypatch.context() as mp:
        mp.setattr(command, "apply", apply_while_a_controller_runs)
        code, report = _cleanup("--apply")
        human = run_cleanup("--cluster", CLUSTER, "--region", REGION, "--apply", "--account-id", ACCOUNT)

    assert code == exits.INCOMPLETE
    assert {o["result"] for o in report["outcomes"]} == {"deleted", "terminated"}
    assert [(o["kind"], o["id"]) for o in report["remaining"]] == [("network-interface", late[0])]
    assert human.exit_code == exits.INCOMPLETE
    assert "Still there after --apply (re-scan)" in human.stdout
    # Once nothing recreates ENIs, a plain run deletes the last late one and the re-scan comes back clean.
    code, report = _cleanup("--apply")
    assert code == exits.OK, report
    assert [o["id"] for o in report["outcomes"]] == [late[-1]]
