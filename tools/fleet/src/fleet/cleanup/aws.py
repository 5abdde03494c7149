"""AWS access for cleanup: every call goes through `Aws.call`, which retries what is transient and raises
`AwsError` for everything else.

The original bash scripts ran `aws ... 2>/dev/null || true`, so an expired token printed "nothing to clean
up". Here no error is ever swallowed: a call either returns AWS's answer or raises.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionClosedError,
    NoCredentialsError,
    ReadTimeoutError,
    WaiterError,
)

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
# A dropped connection or slow answer is worth another try; an unreachable endpoint is a setting, so it
# fails fast.
_TRANSIENT_NETWORK = (ConnectionClosedError, ReadTimeoutError)


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
    """Bounded exponential backoff: after failed attempt n, wait min(max_delay, base_delay * 2**(n-1))."""

    attempts: int = 8
    base_delay: float = 1.0
    max_delay: float = 20.0
    waiter_delay: int = 5
    waiter_attempts: int = 60

    def delay(self, attempt: int) -> float:
        return min(self.max_delay, self.base_delay * 2 ** (attempt - 1))


class Aws:
    """EC2, ELBv2 and EKS clients for one region, plus retrying call, pagination and waiter helpers."""

    def __init__(
        self,
        region: str,
        endpoint_url: str | None = None,
        policy: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.policy = policy or RetryPolicy()
        self._sleep = sleep
        # botocore's own retries are off so that there is one retry loop, ours, with one documented bound.
        config = Config(retries={"total_max_attempts": 1}, connect_timeout=5, read_timeout=30)
        session = boto3.session.Session(region_name=region)
        self.ec2: Any = session.client("ec2", endpoint_url=endpoint_url, config=config)
        self.elbv2: Any = session.client("elbv2", endpoint_url=endpoint_url, config=config)
        # EKS is only asked whether the cluster still exists: deleting a live cluster's resources breaks it.
        self.eks: Any = session.client("eks", endpoint_url=endpoint_url, config=config)

    def call(self, client: Any, operation: str, *, retry_codes: Sequence[str] = (), **params: Any) -> dict[str, Any]:
        """Call `client.operation(**params)`, retrying throttling, 5xx, network blips and `retry_codes`."""
        name = client.meta.method_to_api_mapping.get(operation, operation)
        retriable = TRANSIENT_CODES | frozenset(retry_codes)
        for attempt in range(1, self.policy.attempts + 1):
            try:
                result: dict[str, Any] = getattr(client, operation)(**params)
                return result
            except ClientError as exc:
                code = exc.response.get("Error", {}).get("Code", "Unknown")
                message = exc.response.get("Error", {}).get("Message", str(exc))
                if code not in retriable or attempt == self.policy.attempts:
                    raise AwsError(name, code, message, attempt) from exc
            except _TRANSIENT_NETWORK as exc:
                if attempt == self.policy.attempts:
                    raise AwsError(name, type(exc).__name__, str(exc), attempt) from exc
            except NoCredentialsError as exc:
                raise AwsError(name, "NoCredentials", "no AWS credentials found", attempt) from exc
            except BotoCoreError as exc:
                raise AwsError(name, type(exc).__name__, str(exc), attempt) from exc
            self._sleep(self.policy.delay(attempt))
        raise AssertionError("unreachable: the loop returns or raises")  # pragma: no cover

    def pages(
        self, client: Any, operation: str, result_key: str, *, marker: bool = False, **params: Any
    ) -> Iterator[dict[str, Any]]:
        """Yield every item of a paginated describe call, one retried request per page.

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
        """Run a boto3 waiter with the policy's delay and bound; a timeout or error raises AwsError."""
        waiter = client.get_waiter(waiter_name)
        config = {"Delay": self.policy.waiter_delay, "MaxAttempts": self.policy.waiter_attempts}
        try:
            waiter.wait(WaiterConfig=config, **params)
        except WaiterError as exc:
            error = (exc.last_response or {}).get("Error", {})
            raise AwsError(
                f"waiter {waiter_name}", error.get("Code", "WaiterTimeout"), error.get("Message", str(exc))
            ) from exc
