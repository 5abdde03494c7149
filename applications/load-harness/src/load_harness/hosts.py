"""Host names and allowlist patterns, as the driver's SSRF guard (runs/guard.py) and the settings read them.

The grammar lives here, below both, so that the settings can refuse a bad DRIVER_ALLOWED_HOSTS at load time
without importing the runs feature."""

from __future__ import annotations

import fnmatch
import ipaddress
import re
import socket
from dataclasses import dataclass

_WILDCARD = re.compile(r"[*?\[]")
# Host names as the driver can send them. Anything else (spaces, `%`, non-ASCII) is refused rather than guessed
# at: the C resolver reads "169.254.169.254 x" as the metadata address.
_NAME = re.compile(r"[a-z0-9_.-]+")
_PATTERN_NAME = re.compile(r"[a-z0-9_.*?\[\]!-]+")
# What inet_aton (and so getaddrinfo) may take for an IPv4 address: 0xa9fea9fe, 0251.0376.0251.0376, 169.254.43518.
_NUMERIC = re.compile(r"[0-9a-fx.]+")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


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
