"""The newer kinds and guards in detail: progress while waiting, what moto cannot act out (recorded answers
through botocore's Stubber), the input guards, and the OIDC provider found by its URL."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from cleanup_harness import fake_credentials, run_cleanup
from fleet import exits
from fleet.cleanup.aws import Aws, AwsError, RetryPolicy
from fleet.cleanup.kinds.network import delete_network_interfaces, find_network_interfaces
from fleet.cleanup.kinds.storage import find_snapshots
from fleet.cleanup.model import Orphan, Outcome, Target
from fleet.cleanup.waiting import wait_until
from moto import mock_aws

REGION = "eu-west-2"
CLUSTER = "staging"
ACCOUNT = "123456789012"
TARGET = Target(CLUSTER, REGION)


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> tuple[Aws, list[str], list[float]]:
    fake_credentials(monkeypatch)
    lines: list[str] = []
    sleeps: list[float] = []
    policy = RetryPolicy(attempts=2, waiter_delay=5, waiter_attempts=4)
    return Aws(REGION, "http://127.0.0.1:1", policy, sleep=sleeps.append, progress=lines.append), lines, sleeps


def _script(states: list[dict[str, str]]) -> Any:
    calls: list[list[str]] = []

    def pending(ids: Any) -> dict[str, str]:
        calls.append(list(ids))
        return states.pop(0)

    return pending, calls


def test_a_wait_prints_a_line_per_change_of_state_and_one_when_done(aws: tuple[Aws, list[str], list[float]]) -> None:
    client, lines, sleeps = aws
    pending, calls = _script(
        [
            {"i-1": "shutting-down", "i-2": "shutting-down"},
            {"i-1": "shutting-down", "i-2": "shutting-down"},
            {"i-2": "shutting-down"},
            {},
        ]
    )
    wait_until(client, "instances to terminate", ["i-1", "i-2"], pending)
    assert lines[:2] == [
        "  waiting for instances to terminate: i-1 shutting-down, i-2 shutting-down (2 of 2 pending)",
        "  waiting for instances to terminate: i-2 shutting-down (1 of 2 pending)",
    ]
    assert lines[2].startswith("  instances to terminate: done after ")
    assert len(lines) == 3, "an unchanged state prints nothing"
    assert sleeps == [5, 5, 5]
    assert calls == [["i-1", "i-2"]] * 4


def test_a_wait_that_never_ends_is_an_aws_error_naming_what_is_left(aws: tuple[Aws, list[str], list[float]]) -> None:
    client, _, sleeps = aws
    pending, _ = _script([{"lb-1": "active"}] * 5)
    with pytest.raises(AwsError) as info:
        wait_until(client, "load balancers to be deleted", ["lb-1"], pending)
    assert info.value.code == "WaiterTimeout"
    assert "still lb-1 active after 20 s" in str(info.value)
    assert sleeps == [5] * 4


def test_nothing_to_wait_for_asks_nothing(aws: tuple[Aws, list[str], list[float]]) -> None:
    client, lines, _ = aws
    wait_until(client, "anything", [], lambda ids: pytest.fail("asked"))
    assert lines == []


# moto 5.2.5 terminates an instance without detaching its secondary ENIs (or its Elastic IP), so the ENI
# "detaching" wait is tested with botocore's Stubber, against answers shaped as EC2 gives them.
def _eni(status: str, instance: str | None = None) -> dict[str, Any]:
    eni: dict[str, Any] = {
        "NetworkInterfaceId": "eni-0a1",
        "Status": status,
        "Description": "aws-K8S-i-0node",
        "TagSet": [{"Key": "cluster.k8s.amazonaws.com/name", "Value": CLUSTER}],
    }
    if instance:
        eni["Attachment"] = {"InstanceId": instance, "Status": "attached"}
    return eni


def test_an_eni_on_an_orphan_instance_is_an_orphan_and_waits_for_the_detach(
    aws: tuple[Aws, list[str], list[float]],
) -> None:
    client, lines, sleeps = aws
    node = Orphan("instance", "i-0node", "karpenter-node", "karpenter")
    with Stubber(client.ec2) as stub:
        stub.add_response("describe_network_interfaces", {"NetworkInterfaces": [_eni("in-use", "i-0node")]})
        stub.add_response("describe_network_interfaces", {"NetworkInterfaces": [_eni("in-use", "i-0other")]})
        found = list(find_network_interfaces(client, TARGET, [node]))
        others = list(find_network_interfaces(client, TARGET, []))
        stub.assert_no_pending_responses()
    assert [(f.kind, f.id) for f in found] == [("network-interface", "eni-0a1")]
    assert isinstance(found[0], Orphan)
    assert "on orphan instance i-0node, deleted after it terminates" in found[0].reason
    assert [type(o).__name__ for o in others] == ["Skipped"], "attached to a live instance: left alone"

    filters = {"Filters": [{"Name": "network-interface-id", "Values": ["eni-0a1"]}]}
    outcomes: list[Outcome] = []
    with Stubber(client.ec2) as stub:
        stub.add_response("describe_network_interfaces", {"NetworkInterfaces": [_eni("in-use", "i-0node")]}, filters)
        stub.add_response("describe_network_interfaces", {"NetworkInterfaces": [_eni("detaching")]}, filters)
        stub.add_response("describe_network_interfaces", {"NetworkInterfaces": [_eni("available")]}, filters)
        stub.add_response("delete_network_interface", {}, {"NetworkInterfaceId": "eni-0a1"})
        delete_network_interfaces(client, found, outcomes)  # type: ignore[arg-type]
        stub.assert_no_pending_responses()
    assert outcomes == [Outcome("network-interface", "eni-0a1", "deleted")]
    assert lines[0] == "  waiting for ENIs to detach: eni-0a1 in-use (1 of 1 pending)"
    assert lines[1] == "  waiting for ENIs to detach: eni-0a1 detaching (1 of 1 pending)"
    assert sleeps == [5, 5]


def test_snapshots_are_asked_for_this_accounts_own_only(aws: tuple[Aws, list[str], list[float]]) -> None:
    """moto lists only the account's own snapshots either way, so the request itself is checked here: without
    OwnerIds=self, EC2 would list public and shared snapshots of other accounts too."""
    client, _, _ = aws
    snapshot = {
        "SnapshotId": "snap-0a1",
        "State": "completed",
        "VolumeId": "vol-0a1",
        "VolumeSize": 8,
        "Tags": [
            {"Key": "ebs.csi.aws.com/cluster", "Value": "true"},
            {"Key": "KubernetesCluster", "Value": CLUSTER},
            {"Key": "CSIVolumeSnapshotName", "Value": "snapshot-1"},
        ],
    }
    with Stubber(client.ec2) as stub:
        stub.add_response("describe_snapshots", {"Snapshots": [snapshot]}, {"OwnerIds": ["self"], "MaxResults": 1000})
        found = list(find_snapshots(client, TARGET, []))
    assert found == [
        Orphan("snapshot", "snap-0a1", "8 GiB of vol-0a1", f"KubernetesCluster={CLUSTER} (CSI snapshot snapshot-1)")
    ]


# --- input guards: exit 3 naming the flag and the value, before any AWS call ---------------------------------


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--region", "eu-west"], "--region 'eu-west' is not an AWS region name"),
        (["--region", "eu-west-2a"], "--region 'eu-west-2a' is not an AWS region name"),
        (["--region", "EU-WEST-2"], "--region 'EU-WEST-2' is not an AWS region name"),
        (["--account-id", "12345"], "--account-id '12345' is not an AWS account id (exactly 12 digits)"),
        (["--account-id", "12345678901a"], "--account-id '12345678901a' is not an AWS account id"),
        (["--apply"], "--apply requires --account-id"),
        (["--oidc-issuer", "oidc.eks.x"], "--oidc-issuer 'oidc.eks.x' is not an https:// URL"),
    ],
)
def test_bad_input_is_exit_3_naming_flag_and_value(args: list[str], message: str) -> None:
    region = [] if "--region" in args else ["--region", REGION]
    # An unreachable endpoint: reaching AWS at all would turn this into exit 6.
    result = run_cleanup("--cluster", CLUSTER, *region, "--endpoint-url", "http://127.0.0.1:1", *args)
    assert result.exit_code == exits.BAD_INPUT, result.stdout + result.stderr
    assert message in " ".join(result.stderr.split())
    assert "Traceback" not in result.stderr
    assert result.stdout == ""


@pytest.mark.parametrize("region", ["us-gov-west-1", "cn-northwest-1", "ap-southeast-5", "il-central-1"])
def test_every_region_shape_aws_uses_is_accepted(region: str, monkeypatch: pytest.MonkeyPatch) -> None:
    fake_credentials(monkeypatch)
    with mock_aws():
        result = run_cleanup("--cluster", CLUSTER, "--region", region, "--json")
    assert result.exit_code == exits.OK, result.stderr
    assert json.loads(result.stdout)["region"] == region


# --- the OIDC provider by its URL --------------------------------------------------------------------------


@pytest.fixture
def iam(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    fake_credentials(monkeypatch)
    with mock_aws():
        yield boto3.client("iam", region_name=REGION)


def test_an_untagged_oidc_provider_is_found_by_the_issuer_url_given(iam: Any) -> None:
    issuer = f"https://oidc.eks.{REGION}.amazonaws.com/id/0123456789ABCDEF"
    arn = iam.create_open_id_connect_provider(
        Url=issuer, ClientIDList=["sts.amazonaws.com"], ThumbprintList=["9" * 40]
    )["OpenIDConnectProviderArn"]
    base = ("--cluster", CLUSTER, "--region", REGION, "--json")
    unknown = json.loads(run_cleanup(*base).stdout)
    assert unknown["orphans"] == [], "untagged, and the issuer not known: never mentioned"

    result = run_cleanup(*base, "--oidc-issuer", issuer, "--apply", "--account-id", ACCOUNT)
    report = json.loads(result.stdout)
    assert result.exit_code == exits.OK, report
    assert [(o["kind"], o["id"], o["reason"]) for o in report["orphans"]] == [
        ("oidc-provider", arn, "URL is the cluster's OIDC issuer")
    ]
    assert iam.list_open_id_connect_providers()["OpenIDConnectProviderList"] == []
