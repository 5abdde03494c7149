"""Run options → a Plan. One parser for every way in: the CLI turns OptionsError into a usage error (exit 2),
the API and the Flagger webhook into a 422 naming the field."""

from __future__ import annotations

import json
import math
import os
import re
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

from load_harness.driver.plan import Mode, Plan, PlanError, Stage, parse_duration, parse_stages

DEFAULT_PATH = "/load/cpu/work"
# What the driver can put on the wire (it writes the request head as Latin-1): a header name is an RFC 9110
# token, a value visible ASCII with inner spaces or tabs. Anything else is refused, not guessed at.
_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
_VALUE = re.compile(r"[\x21-\x7e]([\t\x20-\x7e]*[\x21-\x7e])?")
_HOST = re.compile(r"[a-z0-9_.-]+")  # urlsplit lower-cases the host; IPv6 literals are left to the resolver
# RFC 3986: characters a path or query may hold as they are; everything else (non-ASCII as UTF-8, spaces,
# controls) is percent-encoded. A `%` not followed by two hex digits is encoded too.
_PATH_SAFE = "/:@!$&'()*+,;=~%"
_QUERY_SAFE = _PATH_SAFE + "?"
_LONE_PERCENT = re.compile(r"%(?![0-9A-Fa-f]{2})")


class OptionsError(ValueError):
    """A bad option; `field` names it as the caller knows it (the CLI prefixes --)."""

    def __init__(self, message: str, field: str = "(options)", value: Any = None) -> None:
        super().__init__(message)
        self.field = field
        self.value = value


def default_url() -> str:
    """This service's CPU-work endpoint: $SERVICE_URL (or $LOAD_HARNESS_SERVICE_URL), else loopback:$PORT."""
    base = (
        os.environ.get("SERVICE_URL")
        or os.environ.get("LOAD_HARNESS_SERVICE_URL")
        or f"http://127.0.0.1:{os.environ.get('PORT') or 8080}"
    )
    return base.rstrip("/") + DEFAULT_PATH


def header_problem(name: str, value: str) -> str | None:
    """Why the driver cannot send this header, or None when it can (it sends the value without outer blanks)."""
    if not _TOKEN.fullmatch(name):
        return "the name must be letters, digits and !#$%&'*+-.^_`|~ (an HTTP token)"
    value = value.strip(" \t")
    if value and not _VALUE.fullmatch(value):
        return "the value must be visible ASCII (spaces and tabs inside are fine); encode other text first"
    return None


def parse_headers(items: list[str]) -> list[tuple[str, str]]:
    headers = []
    for item in items:
        name, sep, value = item.partition(":")
        name, value = name.strip(), value.strip()
        if not sep or not name or any(c in item for c in "\r\n"):
            raise OptionsError(f"bad header {item[:80]!r}: use NAME:VALUE", "header", item[:80])
        problem = header_problem(name, value)
        if problem:
            raise OptionsError(f"bad header {item[:80]!r}: {problem}", "header", item[:80])
        headers.append((name, value))
    return headers


def wire_url(url: str) -> str:
    """The URL as the driver sends it: an ASCII host, the path and query percent-encoded per RFC 3986.

    The request line is written as Latin-1, so a raw `é` or `€` would crash every shard or send other bytes than
    meant; UTF-8 percent-encoding is what browsers send for the same URL."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
    except ValueError as exc:  # a bracketed host that is no IPv6 address, or an unclosed bracket
        raise OptionsError(f"bad URL {url[:200]!r}: {exc}", "url", url[:200]) from None
    if not host.isascii() or not (_HOST.fullmatch(host) or ":" in host):
        raise OptionsError(
            f"bad host {host[:80]!r}: use ASCII letters, digits, '-' and '.' (an international name in its IDNA "
            "form, xn--…)",
            "url",
            url[:200],
        )
    path = quote(_LONE_PERCENT.sub("%25", parts.path), safe=_PATH_SAFE)
    query = quote(_LONE_PERCENT.sub("%25", parts.query), safe=_QUERY_SAFE)
    fragment = quote(_LONE_PERCENT.sub("%25", parts.fragment), safe=_QUERY_SAFE)
    return urlunsplit((parts.scheme, parts.netloc, path, query, fragment))


def build_plan(
    url: str | None,
    *,
    rate: float | None = None,
    concurrency: int | None = None,
    duration: str | None = None,
    requests: int | None = None,
    stages: str | None = None,
    method: str | None = None,
    body: str | None = None,
    headers: list[str] | None = None,
    timeout: str = "5s",
    max_in_flight: int = 1000,
    max_burst: int | None = None,
    cpu_ms: float | None = None,
    iterations: int | None = None,
    insecure: bool = False,
) -> Plan:
    """Validate run options into a Plan; raises OptionsError naming the offending option."""
    if rate is not None and concurrency is not None:
        raise OptionsError("give either rate (open loop) or concurrency (closed loop), not both", "rate", rate)
    floor = 0 if stages else 1e-9  # with stages the flag only gives the starting target, which may be 0
    if rate is not None and (not math.isfinite(rate) or rate < floor):
        raise OptionsError(f"rate must be > 0, got {rate}", "rate", rate)
    if concurrency is not None and concurrency < (0 if stages else 1):
        raise OptionsError(f"concurrency must be >= 1, got {concurrency}", "concurrency", concurrency)
    if requests is not None and requests < 1:
        raise OptionsError("requests must be >= 1", "requests", requests)
    if max_in_flight < 1:
        raise OptionsError("max-in-flight must be >= 1", "max-in-flight", max_in_flight)
    if stages and duration:
        raise OptionsError("stages already set the duration; drop duration", "duration", duration)
    try:
        timeout_s = parse_duration(timeout)
    except PlanError as exc:
        raise OptionsError(str(exc), "timeout", timeout) from None
    try:
        stage_list: tuple[Stage, ...] = parse_stages(stages) if stages else ()
    except PlanError as exc:
        raise OptionsError(str(exc), "stages", stages) from None
    try:
        duration_s = parse_duration(duration) if duration else (math.inf if requests else 30.0)
    except PlanError as exc:
        raise OptionsError(str(exc), "duration", duration) from None
    mode: Mode = "closed" if concurrency is not None or (rate is None and not stages) else "open"
    start = float(rate if rate is not None else concurrency if concurrency is not None else (0 if stages else 1))
    if not stage_list:
        stage_list = (Stage(duration_s, start),)
    if mode == "open" and math.isinf(sum(s.duration_s for s in stage_list)) and start <= 0:
        raise OptionsError("rate must be > 0", "rate", rate)

    header_pairs = parse_headers(headers or [])
    if sum(x is not None for x in (body, cpu_ms, iterations)) > 1:
        raise OptionsError("give only one of body, cpu-ms, iterations", "body", body)
    if cpu_ms is not None:
        body = json.dumps({"cpu_ms": cpu_ms})
    elif iterations is not None:
        body = json.dumps({"iterations": iterations})
    if url is None:
        url = default_url()
        if body is None:
            body = "{}"  # the endpoint's own defaults
    has_type = any(name.lower() == "content-type" for name, _ in header_pairs)
    if body is not None and not has_type:
        try:
            json.loads(body)
        except ValueError as exc:
            raise OptionsError(
                f"body is not valid JSON ({exc}); set a Content-Type header to send other data", "body", body[:80]
            ) from None
        header_pairs.append(("Content-Type", "application/json"))
    if not url.startswith(("http://", "https://")):
        raise OptionsError(f"URL must start with http:// or https://: {url!r}", "url", url)
    url = wire_url(url)
    verb = (method or ("POST" if body is not None else "GET")).upper()
    return Plan(
        url=url,
        mode=mode,
        start_target=start,
        stages=stage_list,
        requests=requests,
        method=verb,
        headers=tuple(header_pairs),
        body=(body or "").encode(),
        timeout_s=timeout_s,
        max_in_flight=max_in_flight,
        max_burst=max_burst,
        insecure=insecure,
    )
