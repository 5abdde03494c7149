"""The retry loop and the paginator, with a fake client: bounded attempts, exact backoff, no swallowing."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError
from fleet.cleanup.aws import Aws, AwsError, RetryPolicy


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


def test_throttling_is_retried_with_exponential_backoff_then_succeeds() -> None:
    aws, sleeps = _aws()
    client = FakeClient([_client_error("Throttling"), _client_error("RequestLimitExceeded"), {"Things": [1]}])
    assert aws.call(client, "describe_things") == {"Things": [1]}
    assert sleeps == [0.5, 1.0]


def test_throttling_gives_up_after_the_bound_and_says_so() -> None:
    aws, sleeps = _aws(attempts=4)
    client = FakeClient([_client_error("Throttling", "Rate exceeded")] * 4)
    with pytest.raises(AwsError) as info:
        aws.call(client, "describe_things")
    assert len(client.calls) == 4
    assert sleeps == [0.5, 1.0, 1.5]  # capped at max_delay
    assert str(info.value).startswith("DescribeThings failed after 4 attempts: Throttling: Rate exceeded")


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


def test_dependency_violation_is_retried_only_when_asked() -> None:
    aws, sleeps = _aws()
    client = FakeClient([_client_error("DependencyViolation"), {}])
    aws.call(client, "describe_things", retry_codes=("DependencyViolation",))
    assert sleeps == [0.5]
    with pytest.raises(AwsError):
        aws.call(FakeClient([_client_error("DependencyViolation")]), "describe_things")


def test_unreachable_endpoint_fails_fast() -> None:
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


def test_a_throttled_page_is_retried_not_restarted() -> None:
    aws, _ = _aws()
    client = FakeClient([{"Things": [1], "NextToken": "t1"}, _client_error("Throttling"), {"Things": [2]}])
    assert list(aws.pages(client, "describe_things", "Things")) == [1, 2]
    assert client.calls == [{}, {"NextToken": "t1"}, {"NextToken": "t1"}]
