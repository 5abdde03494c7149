"""The SSRF guard: runs started through the API, the dashboard or the Flagger webhook may only target hosts on
an allowlist. By default that is this service itself and its configured Service URL; DRIVER_ALLOWED_HOSTS adds
patterns: an exact `host` (any port), an exact `host:port`, or a wildcard that names its port
(`*.apps.svc.cluster.local:8080`). A wildcard without a port is refused when the settings load: it would admit
every port of every matching host, the Kubernetes API's included.

Protected destinations (the Kubernetes API, link-local and cloud metadata addresses) stay refused unless a
pattern names them exactly, host and port, without a wildcard. Hosts are normalised before any comparison: case,
a trailing dot, and IP literals in every form the resolver reads (decimal `2852039166`, hex, octal, short forms,
IPv4-mapped IPv6) become one canonical address. The CLI is not restricted: its user already has a shell."""

from __future__ import annotations

import fnmatch
import ipaddress
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from load_harness.hosts import HostPattern, PatternError, TargetRefused, normalise_host, parse_pattern, parse_patterns

if TYPE_CHECKING:
    from load_harness.settings import Settings

__all__ = ["HostPattern", "PatternError", "TargetRefused", "check_target", "normalise_host", "parse_pattern"]

LOOPBACK = ("127.0.0.1", "localhost", "::1")
PROTECTED_NAMES = frozenset(
    {
        "kubernetes",
        "kubernetes.default",
        "kubernetes.default.svc",
        "metadata",
        "metadata.google.internal",
        "instance-data",
        "instance-data.ec2.internal",
    }
)
PROTECTED_NAME_PATTERNS = ("kubernetes.default.svc.*",)  # any cluster domain
PROTECTED_NETWORKS = tuple(
    ipaddress.ip_network(net)
    for net in (
        "169.254.0.0/16",  # link-local, with the AWS, GCP and Azure metadata service at 169.254.169.254
        "fe80::/10",  # IPv6 link-local
        "fd00:ec2::254/128",  # AWS metadata over IPv6
        "100.100.100.200/32",  # Alibaba Cloud metadata
        "168.63.129.16/32",  # Azure WireServer
    )
)


def allowed_patterns(settings: Settings) -> list[HostPattern]:
    patterns = [HostPattern(normalise_host(host), settings.port) for host in LOOPBACK]
    patterns.append(_exact(settings.pod_name, settings.port))
    if settings.service_url:
        service = urlsplit(settings.service_url)
        if service.hostname:
            patterns.append(_exact(service.hostname, service.port or _default_port(service.scheme)))
    patterns.extend(parse_patterns(settings.driver_allowed_hosts))
    return [p for p in patterns if p.host]


def _exact(host: str, port: int) -> HostPattern:
    try:
        return HostPattern(normalise_host(host), port)
    except TargetRefused:
        return HostPattern("", port)  # a pod name the driver could not send anyway matches nothing


def _default_port(scheme: str) -> int:
    return 443 if scheme == "https" else 80


def is_protected(host: str, settings: Settings) -> bool:
    """The Kubernetes API (by name or its KUBERNETES_SERVICE_HOST address), link-local or metadata addresses."""
    if host in PROTECTED_NAMES or any(fnmatch.fnmatchcase(host, p) for p in PROTECTED_NAME_PATTERNS):
        return True
    if settings.kubernetes_service_host and host == _exact(settings.kubernetes_service_host, 0).host:
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return any(address in network for network in PROTECTED_NETWORKS)


def check_target(url: str, settings: Settings) -> str:
    """Return the URL when its host:port matches the allowlist; raise TargetRefused otherwise."""
    try:
        parts = urlsplit(url)
    except ValueError as exc:  # a bracketed host that is no IPv6 address, or an unclosed bracket
        raise TargetRefused(f"{url[:200]!r} is not a valid URL: {exc}") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise TargetRefused(f"{url[:200]!r} is not an http(s) URL with a host")
    if parts.username or parts.password:
        raise TargetRefused("credentials in the target URL are not allowed")
    try:
        port = parts.port or _default_port(parts.scheme)
    except ValueError as exc:
        raise TargetRefused(f"bad port in {url[:200]!r}") from exc
    host = normalise_host(parts.hostname)
    endpoint = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    patterns = allowed_patterns(settings)
    if is_protected(host, settings):
        if any(p.names_exactly(host, port) for p in patterns):
            return url
        raise TargetRefused(
            f"target {endpoint} is the Kubernetes API, a link-local or a cloud metadata address: refused unless "
            "DRIVER_ALLOWED_HOSTS names it exactly as host:port"
        )
    if any(p.matches(host, port) for p in patterns):
        return url
    raise TargetRefused(
        f"target {endpoint} is not allowed: the API may only target this service, its SERVICE_URL, and hosts "
        "listed in DRIVER_ALLOWED_HOSTS"
    )
