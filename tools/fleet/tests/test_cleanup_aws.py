"""The AWS wrapper: botocore's standard retries (answered before the request leaves, through botocore's own
event hooks), the dependency retry loop and the paginator with a fake client, no swallowing."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from botocore.awsrequest import AWSPreparedRequest, AWSResponse
from botocore.exceptions import ClientError, EndpointConnectionError
from cleanup_harness import fake_credentials
from fleet.cleanup.aws import Aws, AwsError, RetryPolicy


@pytest.fixture(autouse=True)
def _credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    fake_credentials(monkeypatch)  # requests are signed before botocore's before-send hook answers them


class FakeClient:
    """Answers `describe_things` from a script of results and exceptions, and records every call."""

    def __init__(self, script: list[Any]) -> None:
        self.script = script
        self.calls: list[dict[str, Any]] = []
        self.meta = type("Meta", (), {"method_to_api_mapping": {"describe_things": "DescribeThings"}})()

    def describe_things(self, **params: Any) -> dict[str, Any]:
        self.calls.append(params)
        step = self.script.pop(0)
        if isinstance(step, Exception):
            raise step
        result: dict[str, Any] = step
        return result


def _client_error(code: str, message: str = "m") -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": message}}, "DescribeThings")


def _aws(attempts: int = 4) -> tuple[Aws, list[float]]:
    sleeps: list[float] = []
    policy = RetryPolicy(attempts=attempts, base_delay=0.5, max_delay=1.5)
    return Aws("eu-west-2", "http://127.0.0.1:1", policy, sleep=sleeps.append), sleeps


def test_every_client_retries_through_botocore_standard_mode() -> None:
    """One retry mechanism: botocore's, with the policy's bound on tries per call (finding 8)."""
    aws, _ = _aws(attempts=5)
    for client in (aws.ec2, aws.elbv2, aws.elb, aws.eks, aws.logs, aws.iam, aws.sts):
        assert client.meta.config.retries == {"mode": "standard", "total_max_attempts": 5}


class _Raw:
    def __init__(self, body: bytes) -> None:
        self.body = body

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self.body


THROTTLED = (
    b"<Response><Errors><Error><Code>Throttling</Code><Message>Rate exceeded</Message></Error></Errors>"
    b"<RequestID>r</RequestID></Response>"
)
NO_VOLUMES = (
    b'<DescribeVolumesResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"><volumeSet/></DescribeVolumesResponse>'
)


def _answer_with(aws: Aws, bodies: list[tuple[int, bytes]]) -> list[int]:
    """Answer the EC2 client's DescribeVolumes requests from `bodies` (before they leave the machine), and
    return the list of status codes sent, which grows as botocore retries."""
    sent: list[int] = []

    def reply(request: AWSPreparedRequest, **_: Any) -> AWSResponse:
        status, body = bodies.pop(0)
        sent.append(status)
        return AWSResponse(request.url, status, {}, _Raw(body))

    aws.ec2.meta.events.register("before-send.ec2.DescribeVolumes", reply)
    return sent


def test_a_throttling_reply_is_retried_by_botocore_then_succeeds() -> None:
    aws, sleeps = _aws(attempts=4)
    sent = _answer_with(aws, [(400, THROTTLED), (400, THROTTLED), (200, NO_VOLUMES)])
    assert aws.call(aws.ec2, "describe_volumes")["Volumes"] == []
    assert sent == [400, 400, 200]
    assert sleeps == [], "no second loop of fleet's own on top of botocore's"


def test_throttling_gives_up_after_the_bound_and_says_so() -> None:
    aws, _ = _aws(attempts=3)
    sent = _answer_with(aws, [(400, THROTTLED)] * 3)
    with pytest.raises(AwsError) as info:
        aws.call(aws.ec2, "describe_volumes")
    assert sent == [400, 400, 400]
    assert str(info.value).startswith("DescribeVolumes failed after 3 attempts: Throttling: Rate exceeded")
    assert "kept throttling" in str(info.value)


@pytest.mark.parametrize("code", ["AuthFailure", "UnauthorizedOperation", "AccessDenied", "ValidationError"])
def test_other_errors_fail_at_once(code: str) -> None:
    aws, sleeps = _aws()
    client = FakeClient([_client_error(code)])
    with pytest.raises(AwsError) as info:
        aws.call(client, "describe_things")
    assert info.value.code == code
    assert sleeps == []


def test_auth_errors_carry_a_hint() -> None:
    aws, _ = _aws()
    with pytest.raises(AwsError, match="the result is unknown, not empty"):
        aws.call(FakeClient([_client_error("AuthFailure")]), "describe_things")


def test_dependency_violation_is_retried_only_when_asked_and_says_so() -> None:
    aws, sleeps = _aws()
    lines: list[str] = []
    aws.progress = lines.append
    client = FakeClient([_client_error("DependencyViolation"), _client_error("DependencyViolation"), {}])
    aws.call(client, "describe_things", retry_codes=("DependencyViolation",))
    assert sleeps == [0.5, 1.0]
    assert lines == [
        "  DescribeThings: DependencyViolation, a dependency is still in place; trying again in 0.5 s (1/3)",
        "  DescribeThings: DependencyViolation, a dependency is still in place; trying again in 1 s (2/3)",
    ]
    with pytest.raises(AwsError):
        aws.call(FakeClient([_client_error("DependencyViolation")]), "describe_things")


def test_an_endpoint_error_that_outlasts_botocore_retries_is_an_aws_error() -> None:
    aws, sleeps = _aws()
    client = FakeClient([EndpointConnectionError(endpoint_url="http://127.0.0.1:1")])
    with pytest.raises(AwsError, match="EndpointConnectionError"):
        aws.call(client, "describe_things")
    assert sleeps == []


def test_pages_follow_next_token_until_it_runs_out() -> None:
    aws, _ = _aws()
    client = FakeClient([{"Things": [1, 2], "NextToken": "t1"}, {"Things": [3], "NextToken": "t2"}, {"Things": [4]}])
    assert list(aws.pages(client, "describe_things", "Things", MaxResults=2)) == [1, 2, 3, 4]
    assert client.calls == [
        {"MaxResults": 2},
        {"MaxResults": 2, "NextToken": "t1"},
        {"MaxResults": 2, "NextToken": "t2"},
    ]


def test_elbv2_pages_use_marker() -> None:
    aws, _ = _aws()
    client = FakeClient([{"Things": [1], "NextMarker": "m1"}, {"Things": [2]}])
    assert list(aws.pages(client, "describe_things", "Things", marker=True)) == [1, 2]
    assert client.calls[1] == {"Marker": "m1"}
