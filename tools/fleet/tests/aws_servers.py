"""Real local servers for the cleanup tests: a `moto_server` process and a tiny AWS-shaped stub.

The stub answers EC2 and ELBv2 query-protocol requests with canned XML, so a test can make AWS say exactly
"AuthFailure" or "Throttling" and count how many times the client asked. It answers EKS DescribeCluster
(REST-JSON, `GET /clusters/NAME`) too: by default "no such cluster", or any status a test asks for. Every
other service (STS, IAM, classic ELB, CloudWatch Logs) gets an empty success, and STS GetCallerIdentity an
account id, unless a test passes its own `others` responder.

`FaultProxy` sits in front of a real moto_server and forwards everything, except the requests a test picks,
which it answers with an AWS error instead (moto_server cannot throttle on demand).
"""

from __future__ import annotations

import json
import shutil
import threading
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs

from local_servers import free_port, running

MOTO_SERVER = shutil.which("moto_server") or str(Path(__file__).resolve().parents[3] / ".venv/bin/moto_server")


@contextmanager
def moto_server(**env: str) -> Iterator[str]:
    """Start `moto_server -H 127.0.0.1 -p PORT`, wait until it answers, yield its URL, stop it."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with running([MOTO_SERVER, "-H", "127.0.0.1", "-p", str(port)], f"{url}/moto-api/", "moto_server", env):
        yield url


def reset_moto(url: str) -> None:
    urllib.request.urlopen(urllib.request.Request(f"{url}/moto-api/reset", method="POST"), timeout=30).close()


ELBV2_NS = "http://elasticloadbalancing.amazonaws.com/doc/2015-12-01/"
EC2_NS = "http://ec2.amazonaws.com/doc/2016-11-15/"
EMPTY_RESULTS = {
    "DescribeLoadBalancers": "LoadBalancers",
    "DescribeTargetGroups": "TargetGroups",
    "DescribeNetworkInterfaces": "networkInterfaceSet",
    "DescribeSecurityGroups": "securityGroupInfo",
    "DescribeVolumes": "volumeSet",
    "DescribeAddresses": "addressesSet",
    "DescribeInstances": "reservationSet",
    "DescribeLaunchTemplates": "launchTemplates",
    "DescribeSnapshots": "snapshotSet",
}
STUB_ACCOUNT = "123456789012"


def ok_empty(action: str, is_elbv2: bool) -> tuple[int, str]:
    """A successful, empty answer to a Describe* call, in the service's XML shape."""
    member = EMPTY_RESULTS[action]
    if is_elbv2:
        body = (
            f'<{action}Response xmlns="{ELBV2_NS}"><{action}Result><{member}/></{action}Result>'
            f"<ResponseMetadata><RequestId>stub</RequestId></ResponseMetadata></{action}Response>"
        )
    else:
        body = f'<{action}Response xmlns="{EC2_NS}"><requestId>stub</requestId><{member}/></{action}Response>'
    return 200, body


def error(code: str, message: str, status: int, is_elbv2: bool) -> tuple[int, str]:
    """An AWS error in the service's XML shape (ELBv2: ErrorResponse; EC2: Response/Errors)."""
    if is_elbv2:
        body = (
            f'<ErrorResponse xmlns="{ELBV2_NS}"><Error><Type>Sender</Type><Code>{code}</Code>'
            f"<Message>{message}</Message></Error><RequestId>stub</RequestId></ErrorResponse>"
        )
    else:
        body = (
            f"<Response><Errors><Error><Code>{code}</Code><Message>{message}</Message></Error></Errors>"
            "<RequestID>stub</RequestID></Response>"
        )
    return status, body


Responder = Callable[[str, bool], tuple[int, str]]
# Other services: (action, API version or X-Amz-Target) -> (HTTP status, body, content type).
OtherResponder = Callable[[str, str], tuple[int, str, str]]


def other_services_ok(account: str = STUB_ACCOUNT) -> OtherResponder:
    """Empty successes for STS, IAM, classic ELB and Logs, with `account` as the caller's account."""

    def answer(action: str, version: str) -> tuple[int, str, str]:
        if version.startswith("Logs_"):
            return 200, "{}", "application/x-amz-json-1.1"
        result = ""
        if action == "GetCallerIdentity":
            result = f"<Account>{account}</Account><Arn>arn:aws:iam::{account}:user/stub</Arn><UserId>AIDSTUB</UserId>"
        body = (
            f"<{action}Response><{action}Result>{result}</{action}Result>"
            f"<ResponseMetadata><RequestId>stub</RequestId></ResponseMetadata></{action}Response>"
        )
        return 200, body, "text/xml"

    return answer


# EKS answers: cluster name -> (HTTP status, JSON body, error code or "" for success).
EksResponder = Callable[[str], tuple[int, str, str]]


def eks_cluster_gone(name: str) -> tuple[int, str, str]:
    """What EKS says once a cluster is deleted: 404 ResourceNotFoundException."""
    body = {"message": f"No cluster found for name: {name}."}
    return 404, json.dumps(body), "ResourceNotFoundException"


def eks_cluster_in(status: str) -> EksResponder:
    """An EKS that reports the cluster in `status` (CREATING, ACTIVE, DELETING, ...)."""

    def answer(name: str) -> tuple[int, str, str]:
        cluster = {"name": name, "arn": f"arn:aws:eks:eu-west-2:123456789012:cluster/{name}", "status": status}
        return 200, json.dumps({"cluster": cluster}), ""

    return answer


class StubAws:
    """An HTTP server on 127.0.0.1 answering each request with `responder(action, is_elbv2)`."""

    def __init__(
        self, responder: Responder, eks: EksResponder = eks_cluster_gone, others: OtherResponder | None = None
    ) -> None:
        self.responder = responder
        self.eks = eks
        self.others = others or other_services_ok()
        self.calls: list[str] = []
        self.eks_calls: list[str] = []  # kept apart so tests of the EC2/ELBv2 call sequence stay exact
        self.other_calls: list[str] = []  # STS, IAM, classic ELB, Logs: apart for the same reason
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                raw = self.rfile.read(length).decode()
                target = self.headers.get("X-Amz-Target", "")
                form = parse_qs(raw) if not target else {}
                action = target.rsplit(".", 1)[-1] if target else form.get("Action", ["?"])[0]
                version = target or form.get("Version", [""])[0]
                is_elbv2 = version == "2015-12-01"
                content_type = "text/xml"
                if is_elbv2 or version == "2016-11-15":
                    stub.calls.append(action)
                    status, body = stub.responder(action, is_elbv2)
                else:
                    stub.other_calls.append(action)
                    status, body, content_type = stub.others(action, version)
                data = body.encode()
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                name = self.path.split("?")[0].rsplit("/", 1)[-1]
                stub.eks_calls.append(name)
                status, body, code = stub.eks(name)
                data = body.encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                if code:
                    self.send_header("x-amzn-ErrorType", code)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> StubAws:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


# Decides, per request, whether the proxy answers with an error instead: (action, form params) -> reply or None.
Fault = Callable[[str, dict[str, list[str]]], tuple[int, str] | None]


class FaultProxy:
    """An HTTP proxy on 127.0.0.1 that forwards every request to `upstream` (a moto_server) unchanged, except
    those `fault` answers itself. `actions` records every query-protocol action in order, with "!" appended
    to the ones the proxy faulted, so a test can see the retry that followed."""

    def __init__(self, upstream: str, fault: Fault) -> None:
        self.upstream = upstream.rstrip("/")
        self.fault = fault
        self.actions: list[str] = []
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def _forward(self, body: bytes) -> None:
                headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "content-length")}
                request = urllib.request.Request(
                    proxy.upstream + self.path, data=body or None, headers=headers, method=self.command
                )
                try:
                    with urllib.request.urlopen(request, timeout=60) as answer:
                        status, reply_headers, data = answer.status, answer.headers, answer.read()
                except urllib.error.HTTPError as refused:
                    status, reply_headers, data = refused.code, refused.headers, refused.read()
                self.send_response(status)
                for key, value in reply_headers.items():
                    if key.lower() not in ("content-length", "transfer-encoding", "connection", "server", "date"):
                        self.send_header(key, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                form = parse_qs(body.decode()) if not self.headers.get("X-Amz-Target") else {}
                action = form.get("Action", [self.headers.get("X-Amz-Target", "?")])[0]
                reply = proxy.fault(action, form)
                proxy.actions.append(action + ("!" if reply else ""))
                if reply is None:
                    self._forward(body)
                    return
                status, xml = reply
                data = xml.encode()
                self.send_response(status)
                self.send_header("Content-Type", "text/xml")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                self._forward(b"")

            def do_DELETE(self) -> None:
                self._forward(b"")

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> FaultProxy:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
