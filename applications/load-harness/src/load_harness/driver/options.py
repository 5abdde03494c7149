"""A RunSpec → a Plan, and the CLI's option strings → a RunSpec. build_plan is the one validator of a run for every
way in: the CLI turns its OptionsError into a usage error (exit 2) naming the flag, the API and the Flagger webhook
into a 422 naming the field, the dashboard into an error next to the form field."""

from __future__ import annotations

import json
import math
import os
import re
from urllib.parse import quote, urlsplit, urlunsplit

from load_harness.driver.plan import Plan, PlanError, Stage, parse_duration, parse_stages
from load_harness.driver.spec import (
    DEFAULT_PATH,
    OptionsError,
    RunSpec,
    check_bound,
    check_bounds,
    default_target,
    make_spec,
)

__all__ = [
    "DEFAULT_PATH",
    "OptionsError",
    "build_plan",
    "default_url",
    "header_problem",
    "parse_headers",
    "spec_from_cli",
    "wire_url",
]

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


def default_url() -> str:
    """The CLI's default target: $SERVICE_URL (or $LOAD_HARNESS_SERVICE_URL), else loopback:$PORT (8080)."""
    service_url = os.environ.get("SERVICE_URL") or os.environ.get("LOAD_HARNESS_SERVICE_URL")
    return default_target(service_url, os.environ.get("PORT") or 8080)


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


def build_plan(spec: RunSpec) -> Plan:
    """Check a RunSpec (its values, its bounds, what the driver can put on the wire) and make it a Plan. Raises
    OptionsError naming the offending option; every way in calls this, so a run means the same from each."""
    _check_values(spec)
    check_bounds(spec)
    length = spec.length_s
    stages = spec.stages or (Stage(length, spec.target),)
    headers = _wire_headers(spec.headers)
    body = spec.body
    has_type = any(name.lower() == "content-type" for name, _ in headers)
    if body is not None and not has_type:
        try:
            json.loads(body)
        except ValueError as exc:
            raise OptionsError(
                f"body is not valid JSON ({exc}); set a Content-Type header to send other data", "body", body[:80]
            ) from None
        headers.append(("Content-Type", "application/json"))
    if not spec.url.startswith(("http://", "https://")):
        raise OptionsError(f"URL must start with http:// or https://: {spec.url[:200]!r}", "url", spec.url[:200])
    return Plan(
        url=wire_url(spec.url),
        mode=spec.mode,
        start_target=spec.target,
        stages=stages,
        requests=spec.requests,
        method=(spec.method or ("POST" if body is not None else "GET")).upper(),
        headers=tuple(headers),
        body=(body or "").encode(),
        timeout_s=spec.timeout_s,
        max_in_flight=spec.max_in_flight,
        max_burst=spec.max_burst,
        insecure=spec.insecure,
    )


def _check_values(spec: RunSpec) -> None:
    """What no run can be, bounds apart: the limits of each value, and a run that would never end."""
    field = spec.target_field
    if spec.stages:  # the flag only gives where the ramp starts, which may be 0
        if not math.isfinite(spec.target) or spec.target < 0:
            raise OptionsError(f"{field} must be >= 0 with stages, got {spec.target:g}", field, spec.target)
    elif spec.mode == "open" and not (math.isfinite(spec.target) and spec.target > 0):
        raise OptionsError(f"rate must be > 0, got {spec.target:g}", field, spec.target)
    elif spec.mode == "closed" and not (math.isfinite(spec.target) and spec.target >= 1):
        raise OptionsError(f"concurrency must be >= 1, got {spec.target:g}", field, spec.target)
    for stage in spec.stages:
        if not (0 < stage.duration_s < math.inf) or not (math.isfinite(stage.target) and stage.target >= 0):
            shown = f"{stage.duration_s:g}s:{stage.target:g}"
            raise OptionsError(f"bad stage {shown}: give a positive duration and a target >= 0", "stages", shown)
    if spec.stages and spec.duration_s is not None:
        raise OptionsError("stages already set the duration; drop duration", "duration", spec.duration_s)
    if spec.duration_s is not None and not spec.duration_s > 0:
        raise OptionsError(f"duration must be positive, got {spec.duration_s:g}", "duration", spec.duration_s)
    if spec.requests is not None and spec.requests < 1:
        raise OptionsError("requests must be >= 1", "requests", spec.requests)
    if math.isinf(spec.length_s) and spec.requests is None:
        raise OptionsError("a run without a duration needs requests to end it", "duration", None)
    if spec.mode == "open" and math.isinf(spec.length_s) and spec.target <= 0:
        raise OptionsError("rate must be > 0", field, spec.target)
    if not (math.isfinite(spec.timeout_s) and spec.timeout_s > 0):
        raise OptionsError(f"timeout must be positive, got {spec.timeout_s:g}", "timeout", spec.timeout_s)
    if spec.max_in_flight < 1:
        raise OptionsError("max-in-flight must be >= 1", "max-in-flight", spec.max_in_flight)
    if spec.shards < 1:
        raise OptionsError("shards must be >= 1", "shards", spec.shards)


def _wire_headers(pairs: tuple[tuple[str, str], ...]) -> list[tuple[str, str]]:
    """Headers as sent: without outer blanks, and refused when the driver cannot send them."""
    headers = []
    for raw_name, raw_value in pairs:
        name, value = raw_name.strip(), raw_value.strip()
        shown = f"{name}:{value}"[:80]
        if not name or any(c in raw_name + raw_value for c in "\r\n"):
            raise OptionsError(f"bad header {shown!r}: use NAME:VALUE on one line", "header", shown)
        problem = header_problem(name, value)
        if problem:
            raise OptionsError(f"bad header {shown!r}: {problem}", "header", shown)
        headers.append((name, value))
    return headers


def spec_from_cli(
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
    shards: int = 1,
    thresholds: list[str] | None = None,
) -> RunSpec:
    """`load-harness drive`'s options as typer hands them over (durations and stages as text, headers as
    NAME:VALUE) → a RunSpec. Raises OptionsError naming the flag. The text caps are checked before any parsing;
    the other bounds, the API's own, by build_plan."""
    check_bound("stages", stages)  # before parse_stages reads it (the URL's cap is build_plan's, before urlsplit)
    try:
        timeout_s = parse_duration(timeout)
    except PlanError as exc:
        raise OptionsError(str(exc), "timeout", timeout) from None
    try:
        stage_list = parse_stages(stages) if stages else ()
    except PlanError as exc:
        raise OptionsError(str(exc), "stages", stages) from None
    try:
        duration_s = parse_duration(duration) if duration else None
    except PlanError as exc:
        raise OptionsError(str(exc), "duration", duration) from None
    if duration_s is None and requests is not None and not stage_list:
        duration_s = math.inf  # --requests alone bounds the run
    return make_spec(
        url,
        default_url=default_url(),
        rate=rate,
        concurrency=concurrency,
        duration_s=duration_s,
        stages=stage_list,
        requests=requests,
        method=method,
        body=body,
        cpu_ms=cpu_ms,
        iterations=iterations,
        headers=parse_headers(headers or []),
        timeout_s=timeout_s,
        shards=shards,
        thresholds=thresholds or (),
        max_in_flight=max_in_flight,
        max_burst=max_burst,
        insecure=insecure,
    )
