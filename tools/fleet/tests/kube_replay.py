"""A Kubernetes API server that answers from recorded responses, for the `fleet pre-destroy` tests.

The fixtures in fixtures/kube/<scenario>/ are list responses as the API server returns them (ServiceList,
KustomizationList, ...), one file per resource, named by its plural. The server keeps state like the real one:
a DELETE removes the object, or, when it has finalizers, marks it with a deletionTimestamp until a controller
(a test hook) removes it; a merge PATCH changes it; every write bumps resourceVersion. A collection with no
fixture answers 404, as the API server does for a CRD that is not installed. Errors are Status objects built from
fixtures/kube/status/. Every request is logged (method, path, query, content type, JSON body) so tests can
assert on the exact calls, and `hooks` run after each answer: that is where a test plays the controllers.
"""

from __future__ import annotations

import copy
import json
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from local_servers import free_port, running

FIXTURES = Path(__file__).parent / "fixtures" / "kube"
TOKEN = "replay-token"
DELETION_TIME = "2026-05-01T10:00:00Z"
WRITES = ("PATCH", "DELETE", "POST", "PUT")


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    content_type: str
    body: Any


@dataclass(frozen=True)
class Address:
    """Where a request points: collection (api_version, plural), optional namespace and object name."""

    api_version: str
    plural: str
    namespace: str | None
    name: str | None


def parse_path(path: str) -> Address | None:
    parts = [p for p in path.split("/") if p]
    if len(parts) >= 2 and parts[0] == "api":
        api_version, rest = parts[1], parts[2:]
    elif len(parts) >= 3 and parts[0] == "apis":
        api_version, rest = f"{parts[1]}/{parts[2]}", parts[3:]
    else:
        return None
    namespace = None
    if len(rest) >= 3 and rest[0] == "namespaces":
        namespace, rest = rest[1], rest[2:]
    if len(rest) not in (1, 2):
        return None
    return Address(api_version, rest[0], namespace, rest[1] if len(rest) == 2 else None)


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch, as the API server applies application/merge-patch+json."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def _status(fixture: str, **fields: str) -> dict[str, Any]:
    text = (FIXTURES / "status" / f"{fixture}.json").read_text()
    for key, value in fields.items():
        text = text.replace("{" + key + "}", value)
    status: dict[str, Any] = json.loads(text)
    return status


class KubeReplay:
    """The server. Use as a context manager; `url` is http://127.0.0.1:PORT."""

    def __init__(self, port: int = 0) -> None:
        self.lock = threading.RLock()
        self.collections: dict[tuple[str, str], dict[str, Any]] = {}
        self.log: list[Request] = []
        self.hooks: list[Callable[[KubeReplay, Request], None]] = []
        # Requests answered 403: "services" (every request on that plural) or "PATCH helmreleases" (one verb).
        self.forbidden: set[str] = set()
        self.errors: list[str] = []  # exceptions raised while answering (tests assert this stays empty)
        self.version = 1000
        replay = self

        class Handler(BaseHTTPRequestHandler):
            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                raw = self.rfile.read(length) if length else b""
                split = urlsplit(self.path)
                request = Request(
                    self.command,
                    split.path,
                    parse_qs(split.query),
                    self.headers.get("Content-Type", ""),
                    json.loads(raw) if raw else None,
                )
                try:
                    status, answer = replay.answer(request, self.headers.get("Authorization", ""))
                except Exception as exc:  # a bug in the replay must fail the test, not look like a network error
                    replay.errors.append(f"{request.method} {request.path}: {exc!r}")
                    status, answer = 500, {"kind": "Status", "code": 500, "message": repr(exc)}
                data = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
                replay.after(request)

            do_GET = do_DELETE = do_PATCH = do_POST = do_PUT = _handle

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> KubeReplay:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    # --- state ---------------------------------------------------------------------------------------------

    def load(self, scenario: str) -> None:
        """Forget everything and load fixtures/kube/<scenario>/*.json (one list response per plural)."""
        with self.lock:
            self.collections.clear()
            self.log.clear()
            self.hooks.clear()
            self.forbidden.clear()
            self.errors.clear()
            for path in sorted((FIXTURES / scenario).glob("*.json")):
                recorded = json.loads(path.read_text())
                self.collections[(recorded["apiVersion"], path.stem)] = recorded

    def uninstall(self, group: str) -> None:
        """Remove an API group, as deleting its CRDs would: its collections then answer 404."""
        with self.lock:
            for key in [k for k in self.collections if k[0].startswith(group + "/")]:
                del self.collections[key]

    def items(self, api_version: str, plural: str) -> list[dict[str, Any]]:
        with self.lock:
            found: list[dict[str, Any]] = self.collections[(api_version, plural)]["items"]
            return found

    def get(self, api_version: str, plural: str, namespace: str, name: str) -> dict[str, Any] | None:
        with self.lock:
            for item in self.collections.get((api_version, plural), {}).get("items", []):
                meta = item["metadata"]
                if meta["name"] == name and meta.get("namespace", "") == namespace:
                    found: dict[str, Any] = item
                    return found
            return None

    def edit(self, api_version: str, plural: str, namespace: str, name: str, change: Callable[[Any], None]) -> None:
        with self.lock:
            item = self.get(api_version, plural, namespace, name)
            assert item is not None, f"no {plural} {namespace}/{name} in the fixtures"
            change(item)
            self._bump(item)

    def remove(self, api_version: str, plural: str, namespace: str, name: str) -> None:
        """Drop an object (what happens when its last finalizer is removed)."""
        with self.lock:
            item = self.get(api_version, plural, namespace, name)
            if item is not None:
                self.collections[(api_version, plural)]["items"].remove(item)

    def writes(self) -> list[Request]:
        with self.lock:
            return [r for r in self.log if r.method in WRITES]

    def requests(self, method: str, path: str) -> list[Request]:
        with self.lock:
            return [r for r in self.log if r.method == method and r.path == path]

    def _bump(self, item: dict[str, Any]) -> None:
        self.version += 1
        item["metadata"]["resourceVersion"] = str(self.version)

    # --- answering -----------------------------------------------------------------------------------------

    def after(self, request: Request) -> None:
        for hook in list(self.hooks):
            hook(self, request)

    def answer(self, request: Request, authorization: str) -> tuple[int, dict[str, Any]]:
        with self.lock:
            self.log.append(request)
            if authorization != f"Bearer {TOKEN}":
                return 401, _status("unauthorized")
            address = parse_path(request.path)
            recorded = self.collections.get((address.api_version, address.plural)) if address else None
            if address is None or recorded is None:
                return 404, _status("no-such-resource")
            if address.plural in self.forbidden or f"{request.method} {address.plural}" in self.forbidden:
                verb = {"GET": "list" if address.name is None else "get"}.get(request.method, request.method.lower())
                group = address.api_version.rpartition("/")[0]
                return 403, _status("forbidden", plural=address.plural, verb=verb, group=group)
            if address.name is None and request.method == "GET":
                return 200, self._list(recorded, address.namespace)
            item = self.get(address.api_version, address.plural, address.namespace or "", address.name or "")
            if item is None:
                return 404, _status("not-found", plural=address.plural, name=address.name or "")
            return self._act(request, address, recorded, item)

    def _list(self, recorded: dict[str, Any], namespace: str | None) -> dict[str, Any]:
        items = [i for i in recorded["items"] if namespace is None or i["metadata"].get("namespace") == namespace]
        metadata = {**recorded.get("metadata", {}), "resourceVersion": str(self.version)}
        return {**recorded, "metadata": metadata, "items": copy.deepcopy(items)}

    def _act(
        self, request: Request, address: Address, recorded: dict[str, Any], item: dict[str, Any]
    ) -> tuple[int, dict[str, Any]]:
        full = {"apiVersion": recorded["apiVersion"], "kind": recorded["kind"].removesuffix("List"), **item}
        if request.method == "GET":
            return 200, copy.deepcopy(full)
        if request.method == "PATCH":
            if request.content_type != "application/merge-patch+json":
                return 415, _status("unsupported-media-type", content_type=request.content_type)
            item.update(merge_patch(item, request.body))
            self._bump(item)
            return 200, copy.deepcopy({**full, **item})
        if request.method == "DELETE":
            if item["metadata"].get("finalizers"):
                item["metadata"].setdefault("deletionTimestamp", DELETION_TIME)
                item["metadata"]["deletionGracePeriodSeconds"] = 0
                self._bump(item)
            else:
                recorded["items"].remove(item)
            return 200, copy.deepcopy({**full, **item})
        return 405, _status("method-not-allowed", method=request.method)


def kubeconfig(path: Path, server: str, token: str = TOKEN, context: str = "replay") -> Path:
    """Write a kubeconfig whose only context reaches `server` with a bearer token."""
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": context, "cluster": {"server": server}}],
        "users": [{"name": f"{context}-user", "user": {"token": token}}],
        "contexts": [{"name": context, "context": {"cluster": context, "user": f"{context}-user"}}],
        "current-context": context,
    }
    path.write_text(json.dumps(config, indent=2))  # JSON is YAML: the client reads either
    return path


@contextmanager
def moto_with_eks_endpoint(eks_endpoint: str) -> Iterator[str]:
    """A `moto_server` whose EKS clusters report `eks_endpoint` as their API endpoint.

    moto makes up a random https://....eks.amazonaws.com host; on EKS that endpoint *is* the API server the
    kubeconfig names, so here it must be the replay server's URL for the identity check to mean anything.
    """
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    launcher = (
        "import sys; import moto.eks.models as m; m.ENDPOINT_TEMPLATE = sys.argv[1]; "
        "from moto.server import main; main(sys.argv[2:])"
    )
    argv = [sys.executable, "-c", launcher, eks_endpoint, "-H", "127.0.0.1", "-p", str(port)]
    with running(argv, f"{url}/moto-api/", "moto_server", {"MOTO_EC2_LOAD_DEFAULT_AMIS": "false"}):
        yield url
