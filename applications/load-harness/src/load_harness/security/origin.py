"""Where a request comes from: the Host it names, and the site whose page sent it.

Without API_KEY (the local default) nothing else stops a web page the user happens to visit from starting load:

- DNS rebinding: a page on attacker.example re-points its own name at 127.0.0.1, and its requests then carry
  `Host: attacker.example`. Only loopback names, the names this server is configured with and ALLOWED_HOSTS are
  answered (421 otherwise). In a cluster (ENVIRONMENT other than local) any IP literal is answered too, since
  the kubelet probes and Prometheus scrapes by pod IP and no page can rebind an IP, as are `*.svc` and
  `*.svc.cluster.local`, which only the cluster's DNS resolves. /health and /ready are answered whatever the Host.
- Cross-site requests: a page may POST to any origin without asking first (a form, or fetch in no-cors mode).
  An unsafe method is refused (403) when the browser says, in Sec-Fetch-Site or Origin, that another site sent
  it. Clients that are not browsers (curl, scripts, the driver, Flagger) send neither header and pass.

The third part, that JSON endpoints only accept `Content-Type: application/json` (a type no page can send
cross-site without a CORS preflight, which this server never grants), lives in api/validation.parse_body.

The Host and the scheme are the ones the server sees: X-Forwarded-* count only with TRUSTED_PROXY_HOPS (ProxyFix,
security/headers.py). Behind a TLS-terminating proxy, set it, or the browser's https Origin will not match."""

from __future__ import annotations

import fnmatch
import ipaddress
import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from flask import Flask, request

from load_harness.problems import ProblemError
from load_harness.security.csrf import SAFE_METHODS
from load_harness.security.public import is_probe
from load_harness.settings import Settings

LOOPBACK_NAMES = ("localhost",)
# Names only a cluster's DNS resolves: no page on the internet can make a browser send them.
CLUSTER_PATTERNS = ("*.svc", "*.svc.cluster.local")
# Sec-Fetch-Site values a browser sends for the server's own pages ("none": the user typed the URL).
OWN_SITE = frozenset({"same-origin", "none"})
# host[:port], host being a DNS name or a bracketed IPv6 literal. Anything else is not a Host a browser sends.
_HOST = re.compile(r"^(?P<host>\[[0-9a-f:.]+\]|[a-z0-9_.-]+)(?::(?P<port>[0-9]{1,5}))?$")
DEFAULT_PORTS = {"http": 80, "https": 443}


@dataclass(frozen=True)
class HostPolicy:
    """Which Host values are answered. A pattern without a port allows any port; loopback IPs always pass."""

    patterns: tuple[str, ...]
    any_ip: bool  # in a cluster: the kubelet and Prometheus address the pod by IP

    @classmethod
    def from_settings(cls, settings: Settings) -> HostPolicy:
        patterns = [*LOOPBACK_NAMES, settings.pod_name.lower()]
        service = (urlsplit(settings.service_url).hostname or "").lower() if settings.service_url else ""
        if service:
            patterns.append(service)
            labels = service.split(".")
            if not settings.local_mode and len(labels) >= 3 and labels[2] == "svc":
                # `name.namespace.svc[.cluster.local]`: inside the cluster the Service also answers to `name` and
                # `name.namespace`, the forms a Flagger webhook or a pod in another namespace usually uses.
                patterns += [labels[0], f"{labels[0]}.{labels[1]}"]
        if not settings.local_mode:
            patterns += CLUSTER_PATTERNS
        patterns += [p.strip().lower() for p in settings.allowed_hosts.split(",") if p.strip()]
        return cls(tuple(patterns), any_ip=not settings.local_mode)

    def allows(self, raw_host: str, scheme: str) -> bool:
        parsed = split_host(raw_host)
        if parsed is None:
            return False
        host, port = parsed
        ip = _ip(host)
        if ip is not None and (ip.is_loopback or self.any_ip):
            return True
        endpoint = f"{host}:{port or DEFAULT_PORTS.get(scheme, 80)}"
        return any(fnmatch.fnmatchcase(endpoint if _has_port(p) else host, p) for p in self.patterns)


def _has_port(pattern: str) -> bool:
    return ":" in pattern.rpartition("]")[2]  # "[::1]" has colons but no port; "[::1]:8080" has one


def split_host(raw: str) -> tuple[str, int | None] | None:
    """`Host` → (host, port); IPv6 stays bracketed, a trailing dot goes. None when it is not a valid Host."""
    match = _HOST.match(raw.strip().lower())
    if match is None:
        return None
    port = match.group("port")
    if port is not None and not 0 < int(port) < 65536:
        return None
    return match.group("host").rstrip("."), int(port) if port else None


def _ip(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None


def origin_of(url: str) -> tuple[str, str, int] | None:
    """scheme, host, port of an origin or URL, with the default port filled in; None when it has none."""
    try:
        parts = urlsplit(url.strip().lower())
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in DEFAULT_PORTS or not parts.hostname:
        return None
    return parts.scheme, parts.hostname.rstrip("."), port or DEFAULT_PORTS[parts.scheme]


def cross_site_reason() -> str | None:
    """Why the current request was sent by another site's page, or None when nothing says so."""
    site = request.headers.get("Sec-Fetch-Site")
    if site is not None and site.strip().lower() not in OWN_SITE:
        return f"the browser sent it from another site (Sec-Fetch-Site: {site[:40]})"
    origin = request.headers.get("Origin")
    if origin is not None:
        own = origin_of(request.host_url)
        # "null" (a sandboxed frame, a redirect across sites) parses to None, so it never matches.
        if own is None or origin_of(origin) != own:
            return f"its Origin {origin[:100]!r} is not this server's ({request.host_url.rstrip('/')})"
    return None


def install(app: Flask, settings: Settings) -> None:
    """Install the gate. Call it before auth.install: neither check needs to know who is asking."""
    hosts = HostPolicy.from_settings(settings)

    @app.before_request
    def _gate() -> None:
        if not is_probe(request.path) and not hosts.allows(request.host, request.scheme):
            raise ProblemError(
                421,
                "Misdirected Request",
                f"this server does not answer for host {request.host[:100]!r}; if that name is this server's, "
                "add it to ALLOWED_HOSTS",
                kind="unknown-host",
                host=request.host[:100],
            )
        if request.method not in SAFE_METHODS:
            reason = cross_site_reason()
            if reason is not None:
                raise ProblemError(
                    403,
                    "Cross-site request refused",
                    f"{request.method} {request.path} was refused because {reason}; use this server's own pages, "
                    "or a client that is not a browser",
                    kind="cross-site",
                )
