"""The SSRF guard: wildcards must name ports, and the Kubernetes API, link-local and cloud metadata addresses stay
refused in every spelling unless a pattern names them exactly, host and port."""

from __future__ import annotations

from typing import Any

import pytest
from load_harness.runs.guard import TargetRefused, check_target
from load_harness.settings import Settings
from pydantic import ValidationError


def settings(**overrides: Any) -> Settings:
    return Settings(**{"database_url": "sqlite://", "pod_name": "test-pod", "port": 8080, **overrides})


def refused(url: str, config: Settings) -> str:
    with pytest.raises(TargetRefused) as caught:
        check_target(url, config)
    return str(caught.value)


@pytest.mark.parametrize("pattern", ["*.svc.cluster.local", "*", "web-*.apps", "*.svc.cluster.local:*", "*:0"])
def test_wildcards_without_a_port_are_refused_at_start_up(pattern: str) -> None:
    with pytest.raises(ValidationError, match="DRIVER_ALLOWED_HOSTS pattern"):
        settings(driver_allowed_hosts=f"podinfo.test:9898,{pattern}")


def test_a_wildcard_admits_its_port_only() -> None:
    config = settings(driver_allowed_hosts="*.apps.svc.cluster.local:8080,podinfo.test")
    assert check_target("http://web.apps.svc.cluster.local:8080/", config)
    assert check_target("http://WEB.apps.svc.cluster.local.:8080/x", config)  # case and a trailing dot
    assert "not allowed" in refused("http://web.apps.svc.cluster.local:6443/", config)
    assert check_target("http://podinfo.test:1234/", config)  # an exact host still allows any port


@pytest.mark.parametrize(
    "url",
    [
        "https://kubernetes.default.svc.cluster.local/api",
        "https://kubernetes.default.svc.cluster.local.:443/",
        "https://KUBERNETES.default.svc/",
        "https://kubernetes.default:443/",
        "https://kubernetes/",
        "https://10.96.0.1/",  # KUBERNETES_SERVICE_HOST
        "https://[::ffff:10.96.0.1]/",
        "http://169.254.169.254/latest/meta-data/",
        "http://2852039166/",  # decimal
        "http://0xa9fea9fe/",  # hex
        "http://0251.0376.0251.0376/",  # octal
        "http://169.254.43518/",  # short form
        "http://[::ffff:169.254.169.254]/",
        "http://[::ffff:a9fe:a9fe]/",
        "http://[64:ff9b::a9fe:a9fe]/",  # NAT64
        "http://[fd00:ec2::254]/",
        "http://[fe80::1]/",
        "http://169.254.1.1/",
        "http://metadata.google.internal/computeMetadata/v1/",
        "http://metadata/",
        "http://100.100.100.200/latest/meta-data/",
    ],
)
def test_protected_targets_pass_no_wildcard(url: str) -> None:
    config = settings(
        driver_allowed_hosts="*:80,*:443,*.svc.cluster.local:443,*.svc:443,10.96.*:443,169.254.*:80",
        kubernetes_service_host="10.96.0.1",
    )
    assert "Kubernetes API, a link-local or a cloud metadata address" in refused(url, config)


def test_protected_targets_need_an_exact_host_and_port() -> None:
    hostonly = settings(driver_allowed_hosts="169.254.169.254,kubernetes.default.svc")
    refused("http://169.254.169.254/", hostonly)
    refused("https://kubernetes.default.svc/", hostonly)
    exact = settings(driver_allowed_hosts="169.254.169.254:80,kubernetes.default.svc:443")
    assert check_target("http://169.254.169.254/latest/", exact)
    assert check_target("http://2852039166/latest/", exact)  # the same address, spelled otherwise
    assert check_target("https://kubernetes.default.svc/", exact)
    refused("http://169.254.169.254:8080/", exact)


def test_this_service_is_matched_after_normalising() -> None:
    config = settings(service_url="http://load-harness.apps.svc.cluster.local", kubernetes_service_host="10.96.0.1")
    for url in (
        "http://127.0.0.1:8080/load/cpu/work",
        "http://[::1]:8080/",
        "http://LOCALHOST.:8080/",
        "http://[::ffff:127.0.0.1]:8080/",
        "http://test-pod:8080/",
        "http://load-harness.apps.svc.cluster.local./load/cpu/work",
    ):
        assert check_target(url, config) == url
    refused("http://127.0.0.1:5432/", config)
    refused("http://load-harness.apps.svc.cluster.local:8080/", config)


@pytest.mark.parametrize(
    "url", ["http://bücher.test/", "http://169.254.169.254%20x/", "http://a b.test/", "http://[::zz]/"]
)
def test_hosts_no_resolver_should_guess_at_are_refused(url: str) -> None:
    config = settings(driver_allowed_hosts="*:80")
    assert "not a valid" in refused(url, config)
