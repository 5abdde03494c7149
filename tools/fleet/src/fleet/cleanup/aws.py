"""AWS access for cleanup: every call goes through `Aws.call` (or `Aws.paginate`), which raises `AwsError`
for anything AWS does not answer with success.

The original bash scripts ran `aws ... 2>/dev/null || true`, so an expired token printed "nothing to clean
up". Here no error is ever swallowed: a call either returns AWS's answer or raises.

Retries have one home: botocore's "standard" retry mode, set on every client. It retries throttling, 5xx
answers and dropped connections with jittered exponential backoff, including each poll a waiter makes. The
only retries `Aws.call` adds itself are `retry_codes`, which are not blips but dependencies still in place
(`DependencyViolation` while a deleted load balancer's ENIs linger): those wait with a progress line each time.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError, WaiterError

# What botocore's standard mode retries (and fleet then reports as "kept throttling"), for the error hint.
TRANSIENT_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestLimitExceeded",
        "RequestThrottled",
        "RequestThrottledException",
        "TooManyRequestsException",
        "EC2ThrottledException",
        "SlowDown",
        "PriorRequestNotComplete",
        "InternalError",
        "InternalFailure",
        "ServiceUnavailable",
        "Unavailable",
    }
)
AUTH_CODES = frozenset(
    {
        "AuthFailure",
        "UnauthorizedOperation",
        "AccessDenied",
        "AccessDeniedException",
        "InvalidClientTokenId",
        "SignatureDoesNotMatch",
        "ExpiredToken",
        "ExpiredTokenException",
        "UnrecognizedClientException",
        # botocore's code when a 403 body does not parse (moto_server answers EKS's REST-JSON with XML):
        # forbidden is forbidden, whatever the body says.
        "403",
    }
)

Progress = Callable[[str], None]


def print_to_stderr(message: str) -> None:
    """The default progress sink: one plain line on stderr, so stdout (and --json) stays clean."""
    sys.stderr.write(f"{message}\n")
    sys.stderr.flush()


class AwsError(Exception):
    """An AWS call failed for good. The message names the operation, the error code and what to check."""

    def __init__(self, operation: str, code: str, message: str, attempts: int = 1) -> None:
        self.operation, self.code, self.attempts = operation, code, attempts
        hint = _hint(code)
        tries = f" after {attempts} attempts" if attempts > 1 else ""
        super().__init__(f"{operation} failed{tries}: {code}: {message}{hint}")


def _hint(code: str) -> str:
    if code in AUTH_CODES:
        return (
            " — AWS refused the credentials or the permission, so the result is unknown, not empty"
            " (check AWS_PROFILE, `aws sts get-caller-identity`, and the IAM actions listed in docs/fleet.md)"
        )
    if code in TRANSIENT_CODES:
        return " — AWS kept throttling or failing; try again later or raise --retry-attempts"
    return ""


@dataclass(frozen=True)
class RetryPolicy:
    """`attempts`: tries per AWS call, handed to botocore's standard retry mode (throttling, 5xx, network).
    `base_delay`/`max_delay`: the pause before retry n of a `retry_codes` error, min(max, base * 2**(n-1)).
    `waiter_delay`/`waiter_attempts`: how often and how long `wait_until` polls for a state change.
    """

    attempts: int = 8
    base_delay: float = 1.0
    max_delay: float = 20.0
    waiter_delay: int = 5
    waiter_attempts: int = 60

    def delay(self, attempt: int) -> float:
        return min(self.max_delay, self.base_delay * 2 ** (attempt - 1))

    def botocore_config(self) -> Config:
        # total_max_attempts counts the first try too (botocore's max_attempts would count retries only).
        retries: Any = {"mode": "standard", "total_max_attempts": self.attempts}
        return Config(retries=retries, connect_timeout=5, read_timeout=30)


class Aws:
    """One region's clients (EC2, ELBv2, classic ELB, EKS, CloudWatch Logs, IAM, STS), all with botocore's
    standard retries, plus the error-translating call, pagination and waiter helpers."""

    def __init__(
        self,
        region: str,
        endpoint_url: str | None = None,
        policy: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
        progress: Progress = print_to_stderr,
    ) -> None:
        self.policy = policy or RetryPolicy()
        self.region = region
        self.sleep = sleep
        self.progress = progress
        config = self.policy.botocore_config()
        session = boto3.session.Session(region_name=region)

        def client(service: str) -> Any:
            return session.client(service, endpoint_url=endpoint_url, config=config)

        self.ec2: Any = client("ec2")
        self.elbv2: Any = client("elbv2")
        self.elb: Any = client("elb")
        # EKS is only asked whether the cluster still exists: deleting a live cluster's resources breaks it.
        self.eks: Any = client("eks")
        self.logs: Any = client("logs")
        # IAM is global: the finders check that what they match belongs to this region's cluster.
        self.iam: Any = client("iam")
        self.sts: Any = client("sts")

    def call(self, client: Any, operation: str, *, retry_codes: Sequence[str] = (), **params: Any) -> dict[str, Any]:
        """Call `client.operation(**params)`; botocore has already retried blips, so an error here is final,
        except a code in `retry_codes` (a dependency still in place), which waits and tries again."""
        name = api_name(client, operation)
        for attempt in range(1, self.policy.attempts + 1):
            try:
                with translated(name):
                    result: dict[str, Any] = getattr(client, operation)(**params)
                    return result
            except AwsError as exc:
                if exc.code not in retry_codes or attempt == self.policy.attempts:
                    raise
                pause = self.policy.delay(attempt)
                self.progress(
                    f"  {name}: {exc.code}, a dependency is still in place; trying again in {pause:g} s"
                    f" ({attempt}/{self.policy.attempts - 1})"
                )
                self.sleep(pause)
        raise AssertionError("unreachable: the loop returns or raises")  # pragma: no cover

    def paginate(self, client: Any, operation: str, result_key: str, **params: Any) -> Iterator[dict[str, Any]]:
        """Every item of a paginated call, through boto3's paginator (it knows each API's token names)."""
        name = api_name(client, operation)
        with translated(name):
            for page in client.get_paginator(operation).paginate(**params):
                yield from page.get(result_key, [])

    def pages(
        self, client: Any, operation: str, result_key: str, *, marker: bool = False, **params: Any
    ) -> Iterator[dict[str, Any]]:
        """Yield every item of a paginated describe call, one request per page.

        EC2 pages with NextToken in and out; ELBv2 takes `Marker` and answers `NextMarker` (marker=True).
        """
        in_key, out_key = ("Marker", "NextMarker") if marker else ("NextToken", "NextToken")
        while True:
            page = self.call(client, operation, **params)
            yield from page.get(result_key, [])
            next_token = page.get(out_key)
            if not next_token:
                return
            params[in_key] = next_token

    def wait(self, client: Any, waiter_name: str, **params: Any) -> None:
        """Run a boto3 waiter with the policy's delay and bound; a timeout or error raises AwsError.
        (Cleanup itself uses `waiting.wait_until`, which prints progress; this stays for other commands.)"""
        waiter = client.get_waiter(waiter_name)
        config = {"Delay": self.policy.waiter_delay, "MaxAttempts": self.policy.waiter_attempts}
        try:
            waiter.wait(WaiterConfig=config, **params)
        except WaiterError as exc:
            error = (exc.last_response or {}).get("Error", {})
            raise AwsError(
                f"waiter {waiter_name}", error.get("Code", "WaiterTimeout"), error.get("Message", str(exc))
            ) from exc


def api_name(client: Any, operation: str) -> str:
    """`describe_load_balancers` -> `DescribeLoadBalancers`, the name AWS's errors and IAM policies use."""
    mapping: dict[str, str] = getattr(getattr(client, "meta", None), "method_to_api_mapping", {})
    return mapping.get(operation, operation)


@contextmanager
def translated(name: str) -> Iterator[None]:
    """Turn botocore's exceptions into AwsError (code, message, how many tries botocore made)."""
    try:
        yield
    except ClientError as exc:
        error = exc.response.get("Error", {})
        retries = exc.response.get("ResponseMetadata", {}).get("RetryAttempts", 0)
        code, message = error.get("Code", "Unknown"), error.get("Message", str(exc))
        raise AwsError(name, code, message, int(retries) + 1) from exc
    except NoCredentialsError as exc:
        raise AwsError(name, "NoCredentials", "no AWS credentials found") from exc
    except BotoCoreError as exc:
        raise AwsError(name, type(exc).__name__, str(exc)) from exc
