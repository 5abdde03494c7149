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
import re
import socket
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

if TYPE_CHECKING:  # settings.py imports this module to validate DRIVER_ALLOWED_HOSTS
    from load_harness.settings import Settings

LOOPBACK = ("127.0.0.1", "localhost", "::1")
_WILDCARD = re.compile(r"[*?\[]")
# Host names as the driver can send them. Anything else (spaces, `%`, non-ASCII) is refused rather than guessed
# at: the C resolver reads "169.254.169.254 x" as the metadata address.
_NAME = re.compile(r"[a-z0-9_.-]+")
_PATTERN_NAME = re.compile(r"[a-z0-9_.*?\[\]!-]+")
# What inet_aton (and so getaddrinfo) may take for an IPv4 address: 0xa9fea9fe, 0251.0376.0251.0376, 169.254.43518.
_NUMERIC = re.compile(r"[0-9a-fx.]+")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")

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


class TargetRefused(ValueError):
    """The target is not on the allowlist; the message names the host and the setting to change."""


class PatternError(ValueError):
    """A DRIVER_ALLOWED_HOSTS pattern that cannot be used; the settings refuse to load with it."""


@dataclass(frozen=True)
class HostPattern:
    host: str  # normalised; fnmatch wildcards when `wildcard`
    port: int | None  # None: any port, only for exact hosts

    @property
    def wildcard(self) -> bool:
        return bool(_WILDCARD.search(self.host))

    def matches(self, host: str, port: int) -> bool:
        if self.port is not None and self.port != port:
            return False
        return fnmatch.fnmatchcase(host, self.host) if self.wildcard else host == self.host

    def names_exactly(self, host: str, port: int) -> bool:
        return not self.wildcard and self.port == port and self.host == host


def normalise_host(host: str) -> str:
    """Lower case, no trailing dot, IP literals canonical (IPv4-mapped and NAT64 IPv6 as the IPv4 they reach)."""
    host = host.lower().rstrip(".")
    if ":" in host:  # IPv6; urlsplit has removed the brackets
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            raise TargetRefused(f"host {host!r} is not a valid IPv6 address") from None
        return str(_unwrapped(address))
    if not _NAME.fullmatch(host):
        raise TargetRefused(
            f"host {host[:80]!r} is not a valid host name: use ASCII letters, digits, '-' and '.' "
            "(an international name in its IDNA form, xn--…)"
        )
    if _NUMERIC.fullmatch(host):
        try:
            return str(ipaddress.IPv4Address(socket.inet_aton(host)))
        except OSError:
            pass  # a name that merely looks numeric, such as "beef.cafe"
    return host


def _unwrapped(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return address.ipv4_mapped
        if address in _NAT64:
            return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return address


def parse_pattern(text: str) -> HostPattern:
    """`host`, `host:port`, `[v6]:port`, or a wildcard host with a port; raises PatternError."""
    text = text.strip().lower()
    host, port_text = text, None  # a bare IPv6 address has colons but no port
    if text.startswith("["):
        host, sep, rest = text[1:].partition("]")
        if not sep or (rest and not rest.startswith(":")):
            raise PatternError(f"pattern {text!r}: write an IPv6 address as [address]:port")
        port_text = rest[1:] if rest else None
    elif text.count(":") == 1:
        host, port_text = text.split(":")
    port: int | None = None
    if port_text is not None:
        if not port_text.isdigit() or not 1 <= int(port_text) <= 65535:
            raise PatternError(f"pattern {text!r}: the port must be a number from 1 to 65535")
        port = int(port_text)
    if _WILDCARD.search(host):
        if port is None:
            raise PatternError(
                f"pattern {text!r} has a wildcard but no port: name the port, e.g. {text}:8080 (a wildcard on "
                "every port admits every matching service, the Kubernetes API included)"
            )
        if not _PATTERN_NAME.fullmatch(host):
            raise PatternError(f"pattern {text!r}: a wildcard host may hold letters, digits, '-', '.' and * ? [ ]")
        return HostPattern(host, port)
    try:
        return HostPattern(normalise_host(host), port)
    except TargetRefused as exc:
        raise PatternError(f"pattern {text!r}: {exc}") from None


def parse_patterns(text: str) -> list[HostPattern]:
    """DRIVER_ALLOWED_HOSTS: comma-separated patterns; raises PatternError naming the first bad one."""
    try:
        return [parse_pattern(item) for item in text.split(",") if item.strip()]
    except PatternError as exc:
        raise PatternError(f"DRIVER_ALLOWED_HOSTS {exc}") from None


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
