"""observability/alertmanager/alertmanager.yml, checked with Debian's amtool and a real prometheus-alertmanager.

- `amtool check-config` accepts it, and refuses a route to an undefined receiver;
- `amtool config routes test` sends every alert of observability/rules/ to the receiver of its severity;
- no secret is written inline (amtool accepts an inline key, so this policy is checked here);
- a real Alertmanager groups posted alerts under those receivers, applies the inhibition rules, and delivers a page
  to PagerDuty and a ticket to Slack with the secrets read from their files.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import threading
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml
from local_servers import free_port, running

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / "observability" / "alertmanager" / "alertmanager.yml"
RULES = sorted((ROOT / "observability" / "rules").glob("*.rules.yaml"))
FIXTURES = Path(__file__).parent / "fixtures" / "alertmanager"
AMTOOL = shutil.which("amtool") or "/usr/bin/amtool"
ALERTMANAGER = shutil.which("prometheus-alertmanager") or "/usr/bin/prometheus-alertmanager"
SECRETS_DIR = "/etc/alertmanager/secrets/"
# Generous: bounds how long a broken Alertmanager hangs the test on a stalled shared machine.
DEADLINE_S = 60.0

RECEIVER_OF_SEVERITY = {"page": "pagerduty-page", "ticket": "slack-tickets", "info": "blackhole"}
# Keys whose value is a secret in Alertmanager's receivers and global section. Each has a *_file form (or, for
# webhooks, http_config's credentials_file), which is the only one allowed.
INLINE_SECRET_KEYS = frozenset(
    {
        "routing_key",
        "service_key",
        "api_url",
        "api_key",
        "api_secret",
        "password",
        "credentials",
        "bearer_token",
        "auth_password",
        "auth_secret",
        "auth_token",
        "token",
        "bot_token",
        "user_key",
        "client_secret",
        "webhook_url",
        "slack_api_url",
        "opsgenie_api_key",
        "victorops_api_key",
        "wechat_api_secret",
        "smtp_auth_password",
        "smtp_auth_secret",
    }
)
# *_file keys that name certificates, not secrets kept by the platform.
CERTIFICATE_FILES = frozenset({"ca_file", "cert_file", "key_file"})


def amtool(*args: str) -> subprocess.CompletedProcess[str]:
    if not Path(AMTOOL).exists():
        pytest.skip(f"{AMTOOL} not found: apt-get install prometheus-alertmanager (.ci/run does)")
    return subprocess.run([AMTOOL, *args], capture_output=True, text=True, timeout=DEADLINE_S, check=False)


def load(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def secret_problems(node: Any, where: str = "") -> list[str]:
    """Every inline secret in a config tree, and every *_file secret outside SECRETS_DIR, as `path: reason`."""
    problems: list[str] = []
    if isinstance(node, list):
        for index, item in enumerate(node):
            problems += secret_problems(item, f"{where}[{index}]")
    elif isinstance(node, dict):
        for key, value in node.items():
            path = f"{where}.{key}" if where else str(key)
            if key in INLINE_SECRET_KEYS and value not in (None, ""):
                problems.append(f"{path}: an inline secret; use {key}_file")
            elif str(key).endswith("_file") and key not in CERTIFICATE_FILES and not str(value).startswith(SECRETS_DIR):
                problems.append(f"{path}: secret files live under {SECRETS_DIR}, got {value!r}")
            else:
                problems += secret_problems(value, path)
    return problems


@dataclass(frozen=True)
class RuleAlert:
    name: str
    labels: dict[str, str]
    source: str


def rule_alerts() -> list[RuleAlert]:
    """The alerting rules of observability/rules/, with their static labels."""
    alerts = []
    for path in RULES:
        for group in (load(path) or {}).get("groups") or []:
            for rule in group.get("rules") or []:
                if "alert" in rule:
                    labels = {str(k): str(v) for k, v in (rule.get("labels") or {}).items()}
                    alerts.append(RuleAlert(rule["alert"], labels, path.name))
    return alerts


def routes_test(config: Path, receiver: str, labels: dict[str, str]) -> subprocess.CompletedProcess[str]:
    pairs = [f"{name}={value}" for name, value in labels.items()]
    return amtool("config", "routes", "test", f"--config.file={config}", f"--verify.receivers={receiver}", *pairs)


# -- amtool ------------------------------------------------------------------------------------------------------


def test_check_config_passes() -> None:
    result = amtool("check-config", str(CONFIG))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout
    assert "2 inhibit rules" in result.stdout


def test_a_route_to_an_undefined_receiver_fails_the_check() -> None:
    result = amtool("check-config", str(FIXTURES / "undefined-receiver.yml"))
    assert result.returncode != 0
    assert 'undefined receiver "pagerduty-page"' in result.stdout + result.stderr


@pytest.mark.parametrize("alert", rule_alerts(), ids=lambda alert: alert.name)
def test_every_rule_lands_on_the_receiver_of_its_severity(alert: RuleAlert) -> None:
    severity = alert.labels.get("severity")
    assert severity in RECEIVER_OF_SEVERITY, f"{alert.source}: {alert.name} has severity {severity!r}"
    receiver = RECEIVER_OF_SEVERITY[severity]
    result = routes_test(CONFIG, receiver, {"alertname": alert.name, "namespace": "applications", **alert.labels})
    assert result.returncode == 0, f"{alert.name} → {result.stdout.strip()}, expected {receiver}: {result.stderr}"
    assert result.stdout.strip() == receiver


def test_the_rules_cover_every_severity() -> None:
    """The rules engineer's files exist and use the three severities this config routes (a rule set that lost
    them would make the parametrized test above vanish instead of fail)."""
    assert {alert.labels.get("severity") for alert in rule_alerts()} == set(RECEIVER_OF_SEVERITY)


@pytest.mark.parametrize(
    ("labels", "receiver"),
    [
        ({"alertname": "SomethingNew", "severity": "page"}, "pagerduty-page"),
        ({"alertname": "SomethingNew", "severity": "ticket"}, "slack-tickets"),
        ({"alertname": "SomethingNew", "severity": "info"}, "blackhole"),
        ({"alertname": "SomethingNew"}, "slack-tickets"),  # no severity: still reaches people
        ({"alertname": "SomethingNew", "severity": "critical"}, "slack-tickets"),  # a misspelt one too
        ({"alertname": "Watchdog", "severity": "none"}, "blackhole"),  # never repeats into Slack
        ({"alertname": "InfoInhibitor", "severity": "none"}, "blackhole"),
    ],
)
def test_severity_routes(labels: dict[str, str], receiver: str) -> None:
    result = routes_test(CONFIG, receiver, labels)
    assert result.returncode == 0, f"{labels} → {result.stdout.strip()}, expected {receiver}"


def test_a_wrong_expectation_fails_the_routes_test() -> None:
    """`--verify.receivers` really checks: the same call with the wrong receiver fails."""
    result = routes_test(CONFIG, "slack-tickets", {"alertname": "LoadHarnessErrorBudgetFastBurn", "severity": "page"})
    assert result.returncode != 0
    assert result.stdout.strip().splitlines()[0] == "pagerduty-page"


# -- the secret policy -------------------------------------------------------------------------------------------


def test_no_secret_is_inline() -> None:
    config = load(CONFIG)
    assert secret_problems(config) == []
    files = [problem for problem in json.dumps(config).split('"') if problem.startswith(SECRETS_DIR)]
    assert len(files) == 2, files  # the PagerDuty key and the Slack webhook URL, both as files


def test_an_inline_secret_fails_the_policy_though_amtool_accepts_it() -> None:
    fixture = FIXTURES / "inline-secret.yml"
    assert amtool("check-config", str(fixture)).returncode == 0
    assert secret_problems(load(fixture)) == [
        "receivers[0].pagerduty_configs[0].routing_key: an inline secret; use routing_key_file"
    ]


def test_a_secret_file_outside_the_secrets_dir_fails_the_policy() -> None:
    config = load(CONFIG)
    config["receivers"][1]["slack_configs"][0]["api_url_file"] = "/tmp/slack-url"
    assert secret_problems(config) == [
        "receivers[1].slack_configs[0].api_url_file: secret files live under /etc/alertmanager/secrets/, "
        "got '/tmp/slack-url'"
    ]


# -- a real Alertmanager -----------------------------------------------------------------------------------------


@dataclass
class Capture:
    """A local HTTP server standing in for PagerDuty and Slack: it records each POST (path, JSON body)."""

    url: str = ""
    received: list[tuple[str, Any]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def bodies(self, path: str) -> list[Any]:
        with self.lock:
            return [body for got, body in self.received if got == path]


@pytest.fixture
def capture() -> Iterator[Capture]:
    record = Capture()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", "0"))) or b"null")
            with record.lock:
                record.received.append((self.path, body))
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(b'{"status": "success"}')

        def log_message(self, format: str, *args: Any) -> None:  # quiet: pytest shows what matters
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    record.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield record
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)


def local_copy(tmp_path: Path, capture: Capture) -> Path:
    """The config with what only a laptop test changes: the secret files hold test values (the Slack one, the
    URL of `capture`), PagerDuty's API URL is `capture`, and group_wait is 1 s so the first notification comes
    without a 30 s wait. Routes, receivers, grouping and inhibition stay as written."""
    config = load(CONFIG)
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    (secrets / "routing-key").write_text("test-routing-key\n")
    (secrets / "slack-url").write_text(f"{capture.url}/slack\n")
    for receiver in config["receivers"]:
        for pagerduty in receiver.get("pagerduty_configs") or []:
            pagerduty["routing_key_file"] = str(secrets / "routing-key")
            pagerduty["url"] = f"{capture.url}/pagerduty"
        for slack in receiver.get("slack_configs") or []:
            slack["api_url_file"] = str(secrets / "slack-url")

    def fast(route: dict[str, Any]) -> None:
        if "group_wait" in route or route is config["route"]:
            route["group_wait"] = "1s"
        for child in route.get("routes") or []:
            fast(child)

    fast(config["route"])
    path = tmp_path / "alertmanager.yml"
    path.write_text(yaml.safe_dump(config))
    return path


@pytest.fixture
def alertmanager(tmp_path: Path, capture: Capture) -> Iterator[str]:
    if not Path(ALERTMANAGER).exists():
        pytest.skip(f"{ALERTMANAGER} not found: apt-get install prometheus-alertmanager (.ci/run does)")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    argv = [
        ALERTMANAGER,
        f"--config.file={local_copy(tmp_path, capture)}",
        f"--storage.path={tmp_path / 'data'}",
        f"--web.listen-address=127.0.0.1:{port}",
        "--cluster.listen-address=",  # no gossip: a single instance, and no second port to race for
    ]
    with running(argv, f"{url}/-/ready", "prometheus-alertmanager"):
        yield url


def api(url: str, path: str, body: Any = None) -> Any:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(f"{url}/api/v2{path}", data=data, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        text = response.read().decode()
    return json.loads(text) if text else None


def alert(name: str, **labels: str) -> dict[str, Any]:
    return {"labels": {"alertname": name, **labels}, "annotations": {"summary": f"{name} test", "runbook_url": "rb"}}


def wait_until(predicate: Any, what: str) -> Any:
    deadline = time.monotonic() + DEADLINE_S
    while True:
        result = predicate()
        if result:
            return result
        if time.monotonic() >= deadline:
            raise AssertionError(f"{what} did not happen within {DEADLINE_S:g} s")
        time.sleep(0.2)


LH = {"namespace": "applications", "job": "load-harness"}
POSTED = [
    alert("LoadHarnessErrorBudgetFastBurn", severity="page", slo="availability", **LH),
    alert("LoadHarnessErrorBudgetSlowBurn", severity="ticket", slo="availability", **LH),  # hidden by the page
    alert("LoadHarnessPodRestarting", severity="ticket", pod="load-harness-1", namespace="applications"),  # hidden
    alert("LoadHarnessPodRestarting", severity="ticket", pod="other-1", namespace="other"),  # another namespace
    alert("LoadHarnessHPAAtMaxReplicas", severity="ticket", namespace="applications"),
    alert("DoraReportWindowOutdated", severity="info", job="dora"),
]


@pytest.mark.slow
def test_a_real_alertmanager_groups_inhibits_and_delivers(alertmanager: str, capture: Capture) -> None:
    api(alertmanager, "/alerts", POSTED)

    def grouped() -> dict[tuple[str, str, str], str] | None:
        groups = api(alertmanager, "/alerts/groups")
        found = {
            (a["labels"]["alertname"], a["labels"].get("namespace", ""), a["status"]["state"]): g["receiver"]["name"]
            for g in groups
            for a in g["alerts"]
        }
        return found if len(found) == len(POSTED) else None

    got = wait_until(grouped, "every posted alert in a group")
    assert got == {
        ("LoadHarnessErrorBudgetFastBurn", "applications", "active"): "pagerduty-page",
        ("LoadHarnessErrorBudgetSlowBurn", "applications", "suppressed"): "slack-tickets",
        ("LoadHarnessPodRestarting", "applications", "suppressed"): "slack-tickets",
        ("LoadHarnessPodRestarting", "other", "active"): "slack-tickets",
        ("LoadHarnessHPAAtMaxReplicas", "applications", "active"): "slack-tickets",
        ("DoraReportWindowOutdated", "", "active"): "blackhole",
    }
    suppressed = api(alertmanager, "/alerts?active=false&inhibited=true&silenced=false")
    assert {a["labels"]["alertname"] for a in suppressed if a["status"]["inhibitedBy"]} == {
        "LoadHarnessErrorBudgetSlowBurn",
        "LoadHarnessPodRestarting",
    }

    # Delivered with the secrets read from their files: PagerDuty gets the key, Slack posts to the file's URL.
    page = wait_until(lambda: capture.bodies("/pagerduty"), "a PagerDuty event")[0]
    assert page["routing_key"] == "test-routing-key"
    assert page["event_action"] == "trigger"
    assert page["payload"]["severity"] == "critical"
    assert page["payload"]["summary"] == "LoadHarnessErrorBudgetFastBurn: LoadHarnessErrorBudgetFastBurn test"

    def slack_titles() -> set[str]:
        return {attachment["title"] for body in capture.bodies("/slack") for attachment in body["attachments"]}

    expected = {"[FIRING] LoadHarnessHPAAtMaxReplicas (applications)", "[FIRING] LoadHarnessPodRestarting (other)"}
    wait_until(lambda: expected <= slack_titles(), "both uninhibited tickets in Slack")
    # Never sent while the page fires (this cannot flake: an inhibited group is not notified at all).
    assert not {title for title in slack_titles() if "SlowBurn" in title or "(applications)" in title} - expected
    assert all(body["channel"] == "#platform-alerts" for body in capture.bodies("/slack"))
