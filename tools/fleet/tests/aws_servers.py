"""Real local servers for the cleanup tests: a `moto_server` process and a tiny AWS-shaped stub.

The stub answers EC2 and ELBv2 query-protocol requests with canned XML, so a test can make AWS say exactly
"AuthFailure" or "Throttling" and count how many times the client asked. It answers EKS DescribeCluster
(REST-JSON, `GET /clusters/NAME`) too: by default "no such cluster", or any status a test asks for.
"""

from __future__ import annotations

import json
import shutil
import threading
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
}


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

    def __init__(self, responder: Responder, eks: EksResponder = eks_cluster_gone) -> None:
        self.responder = responder
        self.eks = eks
        self.calls: list[str] = []
        self.eks_calls: list[str] = []  # kept apart so tests of the EC2/ELBv2 call sequence stay exact
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                form = parse_qs(self.rfile.read(length).decode())
                action = form.get("Action", ["?"])[0]
                is_elbv2 = form.get("Version", [""])[0] == "2015-12-01"
                stub.calls.append(action)
                status, body = stub.responder(action, is_elbv2)
                data = body.encode()
                self.send_response(status)
                self.send_header("Content-Type", "text/xml")
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
