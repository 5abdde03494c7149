"""Prometheus rules as code (observability/rules/): every rule file passes `promtool check rules`, every unit test
file passes `promtool test rules`, every alert carries what on-call needs (a severity and a runbook section that
exists), and every rule is unit tested both firing and quiet. The fixtures prove that each check fails on a bad
rule, so a green run means something.

promtool comes from Debian's `prometheus` package, which `.ci/run` installs; without it these tests skip, and the
root conftest.py turns that skip into a failure in CI.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml
from yamllint import linter
from yamllint.config import YamlLintConfig

ROOT = Path(__file__).resolve().parents[2]
RULES_DIR = ROOT / "observability" / "rules"
RULE_TESTS_DIR = RULES_DIR / "tests"
FIXTURES = Path(__file__).resolve().parent / "fixtures"
RUNBOOKS_DIR = ROOT / "docs" / "runbooks"
SEVERITIES = ("page", "ticket", "info")
REQUIRED_ANNOTATIONS = ("summary", "description", "runbook_url")
PROMTOOL_TIMEOUT_S = 120  # a whole test file takes well under a second; this only bounds a hung binary

RULE_FILES = sorted(RULES_DIR.glob("*.rules.yaml"))
RULE_TEST_FILES = sorted(RULE_TESTS_DIR.glob("*.test.yaml"))


@dataclass(frozen=True)
class Rule:
    """One alerting or recording rule, as written in a rule file."""

    source: Path
    name: str
    is_alert: bool
    expr: str
    labels: dict[str, str] = field(default_factory=dict)
    annotations: dict[str, str] = field(default_factory=dict)


@dataclass
class Coverage:
    """What the promtool unit tests exercise: per alert, whether some case expects it firing and some quiet."""

    fires: set[str] = field(default_factory=set)
    quiet: set[str] = field(default_factory=set)
    exprs: list[str] = field(default_factory=list)


def load_rules(path: Path) -> list[Rule]:
    document: dict[str, Any] = yaml.safe_load(path.read_text())
    rules: list[Rule] = []
    for group in document["groups"]:
        for raw in group["rules"]:
            is_alert = "alert" in raw
            rules.append(
                Rule(
                    source=path,
                    name=str(raw["alert"] if is_alert else raw["record"]),
                    is_alert=is_alert,
                    expr=str(raw["expr"]),
                    labels={str(k): str(v) for k, v in (raw.get("labels") or {}).items()},
                    annotations={str(k): str(v) for k, v in (raw.get("annotations") or {}).items()},
                )
            )
    return rules


def load_coverage(test_files: list[Path]) -> Coverage:
    coverage = Coverage()
    for path in test_files:
        document: dict[str, Any] = yaml.safe_load(path.read_text())
        for case in document["tests"]:
            for check in case.get("alert_rule_test") or []:
                (coverage.fires if check.get("exp_alerts") else coverage.quiet).add(check["alertname"])
            coverage.exprs.extend(str(check["expr"]) for check in case.get("promql_expr_test") or [])
    return coverage


def untested_alerts(alerts: list[Rule], coverage: Coverage) -> list[str]:
    """'<alert>: firing' / '<alert>: quiet' for each alert that no promtool case expects in that state."""
    missing = []
    for alert in alerts:
        for state, seen in (("firing", coverage.fires), ("quiet", coverage.quiet)):
            if alert.name not in seen:
                missing.append(f"{alert.name}: {state}")
    return missing


def promtool(*args: str) -> subprocess.CompletedProcess[str]:
    binary = shutil.which("promtool")
    if binary is None:
        pytest.skip("promtool not found: apt-get install prometheus")
    return subprocess.run(
        [binary, *args], capture_output=True, text=True, timeout=PROMTOOL_TIMEOUT_S, cwd=ROOT, check=False
    )


def check_rule_file(path: Path) -> None:
    """`promtool check rules`, with duplicate rules fatal; fails the test with promtool's own words."""
    result = promtool("check", "rules", "--lint=all", "--lint-fatal", str(path))
    if result.returncode != 0:
        pytest.fail(f"promtool check rules {path.relative_to(ROOT)} failed:\n{result.stdout}{result.stderr}")


def run_rule_tests(path: Path) -> None:
    """`promtool test rules` (rule_files resolve against the test file's directory)."""
    result = promtool("test", "rules", str(path))
    if result.returncode != 0:
        pytest.fail(f"promtool test rules {path.relative_to(ROOT)} failed:\n{result.stdout}{result.stderr}")


def heading_anchors(markdown: str) -> set[str]:
    """The anchors GitHub makes for a Markdown file's headings: lower case, punctuation dropped, spaces → '-'."""
    anchors = set()
    for heading in re.findall(r"^#{1,6}\s+(.+?)\s*#*\s*$", markdown, re.M):
        anchors.add(re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-"))
    return anchors


def on_call_problems(rule: Rule) -> list[str]:
    """Why an alert would leave on-call guessing; empty when it has a severity, the annotations and its runbook."""
    problems = []
    severity = rule.labels.get("severity")
    if severity not in SEVERITIES:
        problems.append(f"{rule.name}: severity {severity!r} is not one of {', '.join(SEVERITIES)}")
    problems.extend(
        f"{rule.name}: no {annotation} annotation"
        for annotation in REQUIRED_ANNOTATIONS
        if not rule.annotations.get(annotation, "").strip()
    )
    url = rule.annotations.get("runbook_url", "")
    match = re.fullmatch(r"docs/runbooks/([\w.-]+\.md)#([\w-]+)", url)
    if url and match is None:
        problems.append(f"{rule.name}: runbook_url {url!r} is not docs/runbooks/<file>.md#<anchor>")
    elif match is not None:
        runbook = RUNBOOKS_DIR / match.group(1)
        if not runbook.is_file():
            problems.append(f"{rule.name}: runbook_url {url!r}: {runbook.relative_to(ROOT)} does not exist")
        elif match.group(2) not in heading_anchors(runbook.read_text()):
            problems.append(f"{rule.name}: runbook_url {url!r}: no heading in {match.group(1)} has that anchor")
    return problems


ALL_RULES = [rule for path in RULE_FILES for rule in load_rules(path)]
ALERTS = [rule for rule in ALL_RULES if rule.is_alert]
RECORDINGS = [rule for rule in ALL_RULES if not rule.is_alert]


def test_the_rule_tree_is_where_the_tests_look() -> None:
    assert RULE_FILES, f"no *.rules.yaml under {RULES_DIR}"
    assert RULE_TEST_FILES, f"no *.test.yaml under {RULE_TESTS_DIR}"
    assert ALERTS
    assert RECORDINGS


@pytest.mark.parametrize("path", RULE_FILES, ids=lambda p: p.name)
def test_rule_file_passes_promtool_check(path: Path) -> None:
    check_rule_file(path)


@pytest.mark.parametrize("path", RULE_TEST_FILES, ids=lambda p: p.name)
def test_rule_unit_tests_pass(path: Path) -> None:
    run_rule_tests(path)


@pytest.mark.parametrize("path", RULE_FILES + RULE_TEST_FILES, ids=lambda p: p.name)
def test_rule_yaml_passes_the_repository_yamllint(path: Path) -> None:
    config = YamlLintConfig(file=str(ROOT / ".yamllint.yaml"))
    errors = [p for p in linter.run(path.read_text(), config, str(path)) if p.level == "error"]
    assert not errors, "\n".join(f"{path.name}:{p.line}:{p.column}: {p.message} ({p.rule})" for p in errors)


def test_every_rule_file_is_loaded_by_a_unit_test() -> None:
    loaded = set()
    for path in RULE_TEST_FILES:
        for name in yaml.safe_load(path.read_text())["rule_files"]:
            loaded.add((path.parent / name).resolve())
    assert not [p.name for p in RULE_FILES if p.resolve() not in loaded]


def test_rule_names_are_unique() -> None:
    names = [rule.name for rule in ALL_RULES]
    assert len(names) == len(set(names)), sorted(n for n in names if names.count(n) > 1)


def test_every_alert_has_a_severity_and_a_runbook_section_that_exists() -> None:
    problems = [problem for rule in ALERTS for problem in on_call_problems(rule)]
    assert not problems, "\n".join(problems)


def test_every_alert_is_tested_firing_and_not_firing() -> None:
    untested = untested_alerts(ALERTS, load_coverage(RULE_TEST_FILES))
    assert not untested, "alerts without a promtool case expecting them so:\n" + "\n".join(untested)


def test_every_recording_rule_has_a_promql_expr_test() -> None:
    coverage = load_coverage(RULE_TEST_FILES)
    untested = [
        rule.name
        for rule in RECORDINGS
        if not any(re.search(rf"(?<![\w:]){re.escape(rule.name)}(?![\w:])", expr) for expr in coverage.exprs)
    ]
    assert not untested, f"recording rules no promql_expr_test evaluates: {untested}"


# The checks above, shown to fail on bad input.


def test_promtool_check_fails_on_a_broken_rule_with_promtools_message() -> None:
    with pytest.raises(pytest.fail.Exception, match="unclosed left parenthesis"):
        check_rule_file(FIXTURES / "broken.rules.yaml")


def test_promtool_test_fails_when_an_expected_alert_cannot_fire() -> None:
    with pytest.raises(pytest.fail.Exception, match=r"(?s)FAILED.*alertname: LoadHarnessPodRestarting.*got:\[\]"):
        run_rule_tests(FIXTURES / "never-fires.test.yaml")


def test_on_call_check_names_a_missing_severity_runbook_anchor_and_file() -> None:
    alerts = {rule.name: rule for rule in load_rules(FIXTURES / "unrunbooked.rules.yaml")}
    assert on_call_problems(alerts["NoSeverityNoSection"]) == [
        "NoSeverityNoSection: severity None is not one of page, ticket, info",
        "NoSeverityNoSection: runbook_url 'docs/runbooks/load-harness.md#no-such-section': "
        "no heading in load-harness.md has that anchor",
    ]
    assert on_call_problems(alerts["MissingRunbookFile"]) == [
        "MissingRunbookFile: severity 'urgent' is not one of page, ticket, info",
        "MissingRunbookFile: no description annotation",
        "MissingRunbookFile: runbook_url 'docs/runbooks/nowhere.md#down': docs/runbooks/nowhere.md does not exist",
    ]


def test_coverage_check_names_an_alert_never_tested_quiet() -> None:
    # never-fires.test.yaml only ever expects LoadHarnessPodRestarting to fire.
    restarting = [alert for alert in ALERTS if alert.name == "LoadHarnessPodRestarting"]
    coverage = load_coverage([FIXTURES / "never-fires.test.yaml"])
    assert untested_alerts(restarting, coverage) == ["LoadHarnessPodRestarting: quiet"]


def test_heading_anchors_follow_github() -> None:
    markdown = "# Runbooks\n## LoadHarnessHPAAtMaxReplicas\n### How to check (PromQL, kubectl)\n"
    assert heading_anchors(markdown) == {"runbooks", "loadharnesshpaatmaxreplicas", "how-to-check-promql-kubectl"}
