"""`fleet cleanup` over real HTTP: a `moto_server` process, and a stub that answers like AWS when it refuses.

These are the failures the original bash swallowed: each must exit 6 (REMOTE_ERROR) with the AWS error, never
"nothing found". A cluster that still exists, in any state EKS reports, must stop --apply (exit 8), and so must
credentials of another account, before anything else is read. Throttling is botocore's to retry, inside waits too.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from aws_servers import (
    MOTO_SERVER,
    FaultProxy,
    StubAws,
    eks_cluster_in,
    error,
    moto_server,
    ok_empty,
    other_services_ok,
    reset_moto,
)
from cleanup_harness import fake_credentials, run_cleanup
from cleanup_seed import Clients, existing, seed
from fleet import exits

REGION = "eu-west-2"
CLUSTER = "staging"
ACCOUNT = "123456789012"  # moto's, and the stub's

needs_moto_server = pytest.mark.skipif(
    not os.access(MOTO_SERVER, os.X_OK),
    reason=f"moto_server not found at {MOTO_SERVER}: install the test extra (pip install 'moto[server]')",
)


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    with moto_server(MOTO_EC2_LOAD_DEFAULT_AMIS="false") as url:
        yield url


@pytest.fixture
def account(server: str, monkeypatch: pytest.MonkeyPatch) -> tuple[str, Clients]:
    fake_credentials(monkeypatch)
    reset_moto(server)
    return server, Clients.make(REGION, server)


def _cleanup(endpoint: str, *extra: str) -> tuple[int, dict[str, Any], str]:
    result = run_cleanup("--cluster", CLUSTER, "--region", REGION, "--endpoint-url", endpoint, "--json", *extra)
    return result.exit_code, json.loads(result.stdout), result.stderr


@needs_moto_server
def test_dry_run_then_apply_against_moto_server(account: tuple[str, Clients]) -> None:
    url, clients = account
    seeded = seed(clients, CLUSTER)

    code, report, _ = _cleanup(url)
    assert code == 1
    assert {(o["kind"], o["id"]) for o in report["orphans"]} == seeded.orphans
    assert {(s["kind"], s["id"]) for s in report["skipped"]} == seeded.skipped

    assert report["account"] == ACCOUNT

    code, report, _ = _cleanup(url, "--apply", "--account-id", ACCOUNT, "--retry-base-delay", "0")
    assert code == 0, report
    assert {(o["kind"], o["id"]) for o in report["outcomes"]} == seeded.orphans
    left = existing(clients)
    assert not (seeded.orphans & left)
    assert seeded.survivors | seeded.skipped <= left


@needs_moto_server
def test_apply_against_moto_server_refuses_while_the_cluster_is_active(account: tuple[str, Clients]) -> None:
    url, clients = account
    seeded = seed(clients, CLUSTER)
    eks = boto3.client("eks", region_name=REGION, endpoint_url=url)
    eks.create_cluster(name=CLUSTER, roleArn="arn:aws:iam::123456789012:role/eks", resourcesVpcConfig={"subnetIds": []})
    before = existing(clients)

    code, report, stderr = _cleanup(url, "--apply", "--account-id", ACCOUNT, "--retry-base-delay", "0")

    assert code == exits.REFUSED
    assert report["outcomes"] == []
    assert f"EKS cluster {CLUSTER} still exists in {REGION} (status ACTIVE)" in " ".join(stderr.split())
    assert existing(clients) == before
    assert seeded.orphans <= before

    eks.delete_cluster(name=CLUSTER)
    code, report, _ = _cleanup(url, "--apply", "--account-id", ACCOUNT, "--retry-base-delay", "0")
    assert code == exits.OK, report
    assert not (seeded.orphans & existing(clients))


@pytest.mark.parametrize("state", ["CREATING", "ACTIVE", "UPDATING", "DELETING", "FAILED", "PENDING"])
def test_apply_is_refused_in_every_state_the_cluster_exists_in(monkeypatch: pytest.MonkeyPatch, state: str) -> None:
    fake_credentials(monkeypatch)
    with StubAws(ok_empty, eks=eks_cluster_in(state)) as stub:
        code, report, stderr = _cleanup(stub.url, "--apply", "--account-id", ACCOUNT)
    assert code == exits.REFUSED
    assert report["cluster_status"] == state
    assert f"EKS cluster {CLUSTER} still exists in {REGION} (status {state})" in " ".join(stderr.split())
    assert stub.eks_calls == [CLUSTER]
    assert not [c for c in stub.calls if not c.startswith("Describe")], "nothing but Describe* calls"


def test_an_unanswered_describe_cluster_is_an_error_not_a_go_ahead(monkeypatch: pytest.MonkeyPatch) -> None:
    """No eks:DescribeCluster permission means cleanup cannot know whether the cluster is gone."""
    fake_credentials(monkeypatch)

    def denied(name: str) -> tuple[int, str, str]:
        return 403, '{"message": "not authorized to perform eks:DescribeCluster"}', "AccessDeniedException"

    with StubAws(ok_empty, eks=denied) as stub:
        code, report, _stderr = _cleanup(stub.url, "--apply", "--account-id", ACCOUNT)
    assert code == exits.REMOTE_ERROR
    assert "DescribeCluster failed: AccessDeniedException" in report["error"]
    assert report["outcomes"] == []
    assert stub.calls == [], "nothing else is asked, let alone deleted"
    assert stub.other_calls == ["GetCallerIdentity"], "only the account check came before it"


@needs_moto_server
def test_rejected_credentials_fail_loudly(monkeypatch: pytest.MonkeyPatch) -> None:
    """moto_server with IAM auth on (INITIAL_NO_AUTH_ACTION_COUNT=0) rejects unknown access keys."""
    fake_credentials(monkeypatch)
    with moto_server(INITIAL_NO_AUTH_ACTION_COUNT="0") as url:
        code, report, stderr = _cleanup(url)
    assert code == exits.REMOTE_ERROR
    assert report["orphans"] == []
    assert "InvalidClientTokenId" in report["error"]
    assert "GetCallerIdentity failed" in stderr, "the account check is the first call"
    assert "the result is unknown, not empty" in " ".join(stderr.split())


def test_missing_permission_on_one_kind_is_not_nothing_found(monkeypatch: pytest.MonkeyPatch) -> None:
    """Everything answers empty except DescribeVolumes, which is denied: the run must fail, not say clean."""
    fake_credentials(monkeypatch)

    def responder(action: str, is_elbv2: bool) -> tuple[int, str]:
        if action == "DescribeVolumes":
            return error("UnauthorizedOperation", "You are not authorized to perform this operation.", 403, False)
        return ok_empty(action, is_elbv2)

    with StubAws(responder) as stub:
        code, report, stderr = _cleanup(stub.url)
    assert code == exits.REMOTE_ERROR
    assert "DescribeVolumes failed: UnauthorizedOperation" in report["error"]
    assert "DescribeVolumes failed" in stderr
    assert stub.calls.count("DescribeVolumes") == 1, "permission errors are not retried"
    assert "DescribeAddresses" not in stub.calls, "discovery stops at the first error"


def test_auth_failure_from_ec2_fails_loudly(monkeypatch: pytest.MonkeyPatch) -> None:
    fake_credentials(monkeypatch)

    def responder(action: str, is_elbv2: bool) -> tuple[int, str]:
        if is_elbv2:
            return ok_empty(action, is_elbv2)
        return error("AuthFailure", "AWS was not able to validate the provided access credentials", 401, False)

    with StubAws(responder) as stub:
        result = run_cleanup("--cluster", CLUSTER, "--region", REGION, "--endpoint-url", stub.url)
    assert result.exit_code == exits.REMOTE_ERROR
    assert "No orphans" not in result.stdout
    assert "AuthFailure" in result.stderr


def test_throttling_is_retried_a_bounded_number_of_times_then_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    fake_credentials(monkeypatch)
    with StubAws(lambda action, is_elbv2: error("Throttling", "Rate exceeded", 400, is_elbv2)) as stub:
        code, report, stderr = _cleanup(stub.url, "--retry-attempts", "3", "--retry-base-delay", "0.01")
    assert code == exits.REMOTE_ERROR
    assert stub.calls == ["DescribeLoadBalancers"] * 3
    assert "DescribeLoadBalancers failed after 3 attempts: Throttling: Rate exceeded" in report["error"]
    assert "kept throttling" in " ".join(stderr.split())


def test_throttling_that_clears_up_is_survived(monkeypatch: pytest.MonkeyPatch) -> None:
    fake_credentials(monkeypatch)
    seen: dict[str, int] = {}

    def responder(action: str, is_elbv2: bool) -> tuple[int, str]:
        seen[action] = seen.get(action, 0) + 1
        if seen[action] <= 2:
            return error("RequestLimitExceeded", "Request limit exceeded.", 503, is_elbv2)
        return ok_empty(action, is_elbv2)

    with StubAws(responder) as stub:
        code, report, _ = _cleanup(stub.url, "--retry-attempts", "3", "--retry-base-delay", "0.01")
    assert code == 0, report
    assert report["error"] is None
    assert all(stub.calls.count(action) == 3 for action in set(stub.calls))


def test_unreachable_endpoint_fails_loudly(monkeypatch: pytest.MonkeyPatch) -> None:
    fake_credentials(monkeypatch)
    from local_servers import free_port

    # botocore's standard mode retries a refused connection too; two tries keep the test short.
    code, report, _ = _cleanup(f"http://127.0.0.1:{free_port()}", "--retry-attempts", "2")
    assert code == exits.REMOTE_ERROR
    assert "EndpointConnectionError" in report["error"]


def test_credentials_of_another_account_are_refused_before_anything_is_read(monkeypatch: pytest.MonkeyPatch) -> None:
    fake_credentials(monkeypatch)
    with StubAws(ok_empty, others=other_services_ok("210987654321")) as stub:
        code, report, stderr = _cleanup(stub.url, "--apply", "--account-id", ACCOUNT)
        dry_code, dry_report, _ = _cleanup(stub.url, "--account-id", ACCOUNT)
    assert code == dry_code == exits.REFUSED
    assert report["account"] == "210987654321"
    assert report["expected_account"] == ACCOUNT
    assert report["orphans"] == report["outcomes"] == dry_report["orphans"] == []
    assert "the AWS credentials are for account 210987654321, not --account-id 123456789012" in " ".join(stderr.split())
    assert stub.other_calls == ["GetCallerIdentity"] * 2
    assert stub.calls == stub.eks_calls == [], "not even DescribeCluster is asked"


def test_a_dry_run_without_account_id_says_which_account_it_looks_at(monkeypatch: pytest.MonkeyPatch) -> None:
    fake_credentials(monkeypatch)
    with StubAws(ok_empty, others=other_services_ok("210987654321")) as stub:
        result = run_cleanup("--cluster", CLUSTER, "--region", REGION, "--endpoint-url", stub.url)
    assert result.exit_code == exits.OK
    assert "AWS account 210987654321, region eu-west-2" in result.stdout


def _throttled(action: str) -> str:
    return error("Throttling", "Rate exceeded", 400, True)[1]


@needs_moto_server
def test_a_throttling_reply_inside_a_wait_is_retried_and_apply_succeeds(account: tuple[str, Clients]) -> None:
    """Finding 8: with botocore's retries off, one Throttling answer to the load balancer wait's poll aborted
    --apply. The proxy answers the first DescribeLoadBalancers after a DeleteLoadBalancer with Throttling."""
    url, clients = account
    seeded = seed(clients, CLUSTER)
    state = {"deleted": False, "faulted": 0}

    def throttle_first_poll(action: str, form: dict[str, list[str]]) -> tuple[int, str] | None:
        elbv2 = form.get("Version") == ["2015-12-01"]
        if elbv2 and action == "DeleteLoadBalancer":
            state["deleted"] = True
        if elbv2 and action == "DescribeLoadBalancers" and state["deleted"] and not state["faulted"]:
            state["faulted"] += 1
            return 400, _throttled(action)
        return None

    with FaultProxy(url, throttle_first_poll) as proxy:
        code, report, _ = _cleanup(proxy.url, "--apply", "--account-id", ACCOUNT, "--retry-base-delay", "0")

    assert code == exits.OK, report
    assert report["error"] is None
    assert state["faulted"] == 1
    faulted = proxy.actions.index("DescribeLoadBalancers!")
    assert proxy.actions[faulted - 1] == "DeleteLoadBalancer", "the throttled call was the wait's poll"
    assert proxy.actions[faulted + 1] == "DescribeLoadBalancers", "botocore retried it at once"
    assert not (seeded.orphans & existing(clients))
