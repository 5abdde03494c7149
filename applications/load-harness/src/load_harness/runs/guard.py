"""The SSRF guard: runs started through the API, the dashboard or the Flagger webhook may only target hosts on
an allowlist. By default that is this service itself and its configured Service URL; DRIVER_ALLOWED_HOSTS adds
patterns (`*.svc.cluster.local`, `podinfo-canary.test:9898`). The CLI is not restricted: its user already has
a shell."""

from __future__ import annotations

import fnmatch
from urllib.parse import urlsplit

from load_harness.settings import Settings

LOOPBACK = ("127.0.0.1", "localhost", "::1")


class TargetRefused(ValueError):
    """The target is not on the allowlist; the message names the host and the setting to change."""


def allowed_patterns(settings: Settings) -> list[str]:
    patterns = [f"{host}:{settings.port}" for host in LOOPBACK]
    patterns.append(f"{settings.pod_name}:{settings.port}")
    if settings.service_url:
        service = urlsplit(settings.service_url)
        if service.hostname:
            patterns.append(f"{service.hostname}:{service.port or _default_port(service.scheme)}")
    patterns.extend(p.strip().lower() for p in settings.driver_allowed_hosts.split(",") if p.strip())
    return patterns


def _default_port(scheme: str) -> int:
    return 443 if scheme == "https" else 80


def check_target(url: str, settings: Settings) -> str:
    """Return the URL when its host:port matches the allowlist; raise TargetRefused otherwise."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise TargetRefused(f"{url!r} is not an http(s) URL with a host")
    if parts.username or parts.password:
        raise TargetRefused("credentials in the target URL are not allowed")
    try:
        port = parts.port or _default_port(parts.scheme)
    except ValueError as exc:
        raise TargetRefused(f"bad port in {url!r}") from exc
    host = parts.hostname.lower()
    endpoint = f"{host}:{port}"
    for pattern in allowed_patterns(settings):
        # A pattern without a port allows any port on the matching host.
        if fnmatch.fnmatchcase(endpoint, pattern) or (":" not in pattern and fnmatch.fnmatchcase(host, pattern)):
            return url
    raise TargetRefused(
        f"target {endpoint} is not allowed: the API may only target this service, its SERVICE_URL, and hosts "
        "listed in DRIVER_ALLOWED_HOSTS"
    )
