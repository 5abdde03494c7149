"""What is public, in one place: the paths that need no API key, the paths chaos never touches, and the probes
answered whatever the Host header says. Auth (security/auth.py), chaos (api/chaos.py) and the request gate
(security/origin.py) all read these lists; none keeps its own."""

from __future__ import annotations

# No API key needed: probes and metrics (kubelet and Prometheus have no key), the API docs, static files and
# the login page. /flagger/load-test checks the key itself inside its view: Flagger cannot send headers, so it
# also accepts metadata.token.
PUBLIC_EXACT = frozenset(
    {"/health", "/ready", "/metrics", "/openapi.json", "/apispec.json", "/ui/login", "/flagger/load-test"}
)
PUBLIC_PREFIXES = ("/apidocs", "/static/")

# Besides every public path, chaos spares its own endpoint (switching chaos off must always work) and the
# dashboard (its pages are how a person switches it off).
CHAOS_EXEMPT_EXACT = frozenset({"/chaos", "/ui"})
CHAOS_EXEMPT_PREFIXES = ("/ui/",)

# Answered whatever the Host header names: the kubelet probes by pod IP or by a name set in the probe, a refused
# probe restarts the pod, and neither answer says anything a DNS-rebinding page could use.
PROBES = frozenset({"/health", "/ready"})


def is_public(path: str) -> bool:
    """True when the path needs no API key (so a request for it may be unauthenticated)."""
    return path in PUBLIC_EXACT or path.startswith(PUBLIC_PREFIXES)


def chaos_exempt(path: str) -> bool:
    """True when chaos must not delay or fail the path.

    Every public path is exempt because a request for it has not been authenticated: an anonymous caller must
    never hold a worker thread in the chaos sleep (or see an injected failure)."""
    return is_public(path) or path in CHAOS_EXEMPT_EXACT or path.startswith(CHAOS_EXEMPT_PREFIXES)


def is_probe(path: str) -> bool:
    return path in PROBES
