"""The container checks (fleet/validate/container.py): the repository passes; broken variants of the good fixture
(tests/fixtures/container/good, copied to tmp_path and edited) fail with the finding they were broken for.
hadolint runs twice in all: once over the repository, once over a tree holding every broken Dockerfile at once."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml
from fleet.validate.base import Check, CheckResult, Context, Status
from fleet.validate.container import (
    CHECKS,
    ComposeCheck,
    DockerfileInvariantsCheck,
    HadolintCheck,
    WritablePathsCheck,
)
from fleet.validate.container_dockerfile import find_dockerfiles, parse_instructions

REPO = Path(__file__).resolve().parents[3]
GOOD = Path(__file__).parent / "fixtures" / "container" / "good"
DOCKERFILE = Path("applications/load-harness/Dockerfile")
DEPLOYMENT = Path("k8s/applications/base/load-harness/deployment.yaml")


def run(check: type[Check], root: Path) -> CheckResult:
    return check().run(Context(root=root))


def good_copy(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    shutil.copytree(GOOD, root)
    return root


def edit(root: Path, relative: Path | str, change: Callable[[str], str]) -> None:
    path = root / relative
    before = path.read_text(encoding="utf-8")
    after = change(before)
    assert after != before, f"the edit of {relative} changed nothing: the variant would prove nothing"
    path.write_text(after, encoding="utf-8")


def edit_compose(root: Path, change: Callable[[dict[str, dict[str, object]]], None]) -> None:
    path = root / "compose.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    change(data["services"])
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")


def assert_fails_with(result: CheckResult, *needles: str) -> None:
    assert result.status is Status.FAIL, result
    for needle in needles:
        assert any(needle in error for error in result.errors), (needle, result.errors)


@pytest.fixture(scope="module")
def repo_results() -> dict[str, CheckResult]:
    return {check.name: run(check, REPO) for check in CHECKS}


@pytest.mark.parametrize("name", [check.name for check in CHECKS])
def test_the_repository_passes(repo_results: dict[str, CheckResult], name: str) -> None:
    result = repo_results[name]
    assert result.status is Status.PASS, result.errors
    assert result.checked > 0


# hadolint's run over the good fixture's Dockerfile is part of test_hadolint_flags_only_the_broken_files.
@pytest.mark.parametrize("check", [check for check in CHECKS if check is not HadolintCheck])
def test_the_good_fixture_passes(check: type[Check]) -> None:
    result = run(check, GOOD)
    assert result.status is Status.PASS, result.errors
    assert result.checked > 0


# -- hadolint: one run over every broken Dockerfile ------------------------------------------------------------


@pytest.fixture(scope="module")
def hadolint_tree(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, CheckResult]:
    root = tmp_path_factory.mktemp("hadolint")
    good = (GOOD / DOCKERFILE).read_text(encoding="utf-8")
    variants = {
        "good": good,
        "latest": good.replace("FROM python:3.11-slim-bookworm AS runtime", "FROM python:latest AS runtime"),
        "no-reason": good.replace("RUN python -m venv", "# hadolint ignore=DL3059\nRUN python -m venv"),
        "reasoned": good.replace(
            "RUN python -m venv", "# A reason long enough to read.\n# hadolint ignore=DL3059\nRUN python -m venv"
        ),
    }
    for name, text in variants.items():
        assert name == "good" or text != good
        (root / name).mkdir()
        (root / name / "Dockerfile").write_text(text, encoding="utf-8")
    # Skipped trees: a Dockerfile there must not be linted.
    (root / "node_modules" / "pkg").mkdir(parents=True)
    (root / "node_modules" / "pkg" / "Dockerfile").write_text("FROM debian:latest\n", encoding="utf-8")
    return root, run(HadolintCheck, root)


def test_hadolint_flags_only_the_broken_files(hadolint_tree: tuple[Path, CheckResult]) -> None:
    _, result = hadolint_tree
    assert result.checked == 4  # node_modules skipped
    assert_fails_with(result, "latest/Dockerfile:9: DL3007", "no-reason/Dockerfile:3: `# hadolint ignore=DL3059`")
    assert not [e for e in result.errors if e.startswith(("good/", "reasoned/", "node_modules/"))], result.errors


def test_find_dockerfiles_skips_generated_trees_and_fixtures(tmp_path: Path) -> None:
    for relative in (
        "a/Dockerfile",
        "b/api.Dockerfile",
        "c/Dockerfile.dev",
        ".venv/x/Dockerfile",
        "t/tests/fixtures/Dockerfile",
    ):
        (tmp_path / relative).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / relative).write_text("FROM scratch\n", encoding="utf-8")
    found = [str(p.relative_to(tmp_path)) for p in find_dockerfiles(tmp_path)]
    assert found == ["a/Dockerfile", "b/api.Dockerfile", "c/Dockerfile.dev"]


# -- dockerfile-invariants ---------------------------------------------------------------------------------------

RUNTIME_USER = "USER 10001:10001\nHEALTHCHECK"


@pytest.mark.parametrize(
    ("change", "needle"),
    [
        (lambda t: t.replace(RUNTIME_USER, "HEALTHCHECK"), "no USER, so it runs as root"),
        (lambda t: t.replace(RUNTIME_USER, "USER 0\nHEALTHCHECK"), "USER '0' is root"),
        (lambda t: t.replace(RUNTIME_USER, "USER app\nHEALTHCHECK"), "use a numeric UID"),
        (
            lambda t: t[t.index("FROM python:3.11-slim-bookworm AS runtime") :].replace("COPY --from=build", "COPY"),
            "single stage",
        ),
        (
            lambda t: t.replace('org.opencontainers.image.revision="unknown" \\\n', ""),
            "org.opencontainers.image.revision",
        ),
        (lambda t: t.replace('HEALTHCHECK CMD ["python", "-c", "print()"]', "HEALTHCHECK NONE"), "no HEALTHCHECK"),
        (lambda t: t.replace("ENTRYPOINT", "ADD https://example.com/tool.tgz /opt/\nENTRYPOINT"), "ADD of a URL"),
    ],
    ids=["user-missing", "user-root", "user-name", "single-stage", "label-missing", "healthcheck-none", "add-url"],
)
def test_dockerfile_invariants_fail_on_each_break(tmp_path: Path, change: Callable[[str], str], needle: str) -> None:
    root = good_copy(tmp_path)
    edit(root, DOCKERFILE, change)
    assert_fails_with(run(DockerfileInvariantsCheck, root), needle)


def test_a_user_in_an_earlier_stage_does_not_count(tmp_path: Path) -> None:
    root = good_copy(tmp_path)
    edit(root, DOCKERFILE, lambda t: t.replace(RUNTIME_USER, "HEALTHCHECK"))  # dev still has USER 10001
    assert_fails_with(run(DockerfileInvariantsCheck, root), "the final stage has no USER")


def test_parser_joins_continuations_and_drops_comments() -> None:
    text = "# top\nFROM a AS b\nRUN one \\\n  # inside\n  two\nUSER 1\n"
    parsed = [(i.line, i.keyword, i.args) for i in parse_instructions(text)]
    assert parsed == [(2, "FROM", "a AS b"), (3, "RUN", "one two"), (6, "USER", "1")]


# -- compose -----------------------------------------------------------------------------------------------------


def _drop(services: dict[str, dict[str, object]], name: str) -> None:
    del services[name]


@pytest.mark.parametrize(
    ("change", "needle"),
    [
        (lambda s: s["load-harness"].update(ports=["0.0.0.0:8080:8080"]), "published on 0.0.0.0"),
        (lambda s: s["prometheus"].update(ports=["9090:9090"]), "published on every interface"),
        (lambda s: s["balancer"].update(ports=[{"target": 8080, "published": 8090}]), "published on every interface"),
        (
            lambda s: s["balancer"].update(volumes=["./deploy/missing.conf:/etc/nginx/nginx.conf:ro"]),
            "'./deploy/missing.conf' does not exist",
        ),
        (
            lambda s: s["migrate"].update(build={"context": ".", "dockerfile": "Nope.Dockerfile"}),
            "dockerfile 'Nope.Dockerfile' does not exist",
        ),
        (lambda s: s["migrate"]["build"].update(target="prod"), "build target 'prod' is not a stage"),  # type: ignore[attr-defined]
        (lambda s: s["migrate"].update(env_file=["compose.env"]), "env_file 'compose.env' does not exist"),
        (lambda s: s["grafana"].update(image="grafana/grafana"), "'grafana/grafana' needs a version tag"),
        (lambda s: s["postgres"].update(image="postgres:latest"), "'postgres:latest' needs a version tag"),
        (lambda s: _drop(s, "grafana"), "profile observability: no service 'grafana'"),
        (lambda s: s["test"].update(profiles=["observability"]), "expected profile test"),
        (lambda s: _drop(s, "lh-3"), "runs 2 app replica(s), expected 3"),
        (lambda s: s["load-harness"].update(command=["serve"]), "does not serve with --reload"),
        (lambda s: s["migrate"].update(read_only=False), "'migrate' runs our image without read_only"),
        (lambda s: s["lh-2"].pop("user"), "'lh-2': runs our image with no `user:`"),
        (lambda s: s["lh-1"].update(user="0:0"), "'lh-1': user '0:0' is not a numeric non-root UID"),
        (lambda s: s["test"].update(user="${HOST_UID:-0}"), "'test': user '${HOST_UID:-0}' is not a numeric non-root"),
    ],
    ids=[
        "port-all-interfaces",
        "port-no-host",
        "port-long-syntax",
        "bind-missing",
        "dockerfile-missing",
        "target-missing",
        "env-file-missing",
        "image-untagged",
        "image-latest",
        "service-missing",
        "wrong-profile",
        "two-replicas",
        "no-reload",
        "not-read-only",
        "no-user",
        "root-user",
        "root-by-default",
    ],
)
def test_compose_fails_on_each_break(
    tmp_path: Path, change: Callable[[dict[str, dict[str, object]]], None], needle: str
) -> None:
    root = good_copy(tmp_path)
    edit_compose(root, change)
    assert_fails_with(run(ComposeCheck, root), needle)


def test_compose_config_files_must_exist(tmp_path: Path) -> None:
    root = good_copy(tmp_path)
    edit(root, "compose.yaml", lambda t: t + "configs:\n  nginx:\n    file: ./deploy/absent.conf\n")
    assert_fails_with(run(ComposeCheck, root), "configs.nginx: file './deploy/absent.conf' does not exist")


def test_without_compose_yaml_compose_has_nothing_and_writable_paths_fails(tmp_path: Path) -> None:
    root = good_copy(tmp_path)
    (root / "compose.yaml").unlink()
    assert run(ComposeCheck, root).status is Status.NOTHING
    assert_fails_with(run(WritablePathsCheck, root), "compose.yaml: missing")


@pytest.mark.parametrize("check", CHECKS)
def test_an_empty_tree_is_nothing_to_check(tmp_path: Path, check: type[Check]) -> None:
    result = run(check, tmp_path)
    assert result.status is Status.NOTHING, result


# -- writable-paths ----------------------------------------------------------------------------------------------


def _unmount_data(services: dict[str, dict[str, object]]) -> None:
    services["lh-2"] = {**services["lh-2"], "volumes": []}


def _move_data(services: dict[str, dict[str, object]]) -> None:
    services["migrate"]["environment"] = {"DATA_DIR": "/srv/data"}


@pytest.mark.parametrize(
    ("place", "change", "needle"),
    [
        ("compose", lambda s: s["migrate"].pop("tmpfs"), "'migrate': TMPDIR /tmp is not a tmpfs or volume"),
        ("compose", _unmount_data, "'lh-2': DATA_DIR /var/lib/load-harness is not a tmpfs"),
        ("compose", _move_data, "'migrate': DATA_DIR /srv/data is not a tmpfs"),
        (
            "compose",
            lambda s: s["load-harness"].update(volumes=["app-data:/var/lib/load-harness:ro"]),
            "'load-harness': DATA_DIR",
        ),
    ],
    ids=["tmpfs-missing", "volume-missing", "moved-by-env", "read-only-volume"],
)
def test_writable_paths_fail_in_compose(
    tmp_path: Path, place: str, change: Callable[[dict[str, dict[str, object]]], None], needle: str
) -> None:
    assert place == "compose"
    root = good_copy(tmp_path)
    edit_compose(root, change)
    assert_fails_with(run(WritablePathsCheck, root), needle)


@pytest.mark.parametrize(
    ("relative", "change", "needle"),
    [
        (
            DEPLOYMENT,
            lambda t: t.replace("            - name: tmp\n              mountPath: /tmp\n", ""),
            "TMPDIR /tmp is not a writable",
        ),
        (
            DEPLOYMENT,
            lambda t: t.replace(
                "mountPath: /var/lib/load-harness\n", "mountPath: /var/lib/load-harness\n              readOnly: true\n"
            ),
            "DATA_DIR /var/lib/load-harness is not a writable",
        ),
        (
            DEPLOYMENT,
            lambda t: t.replace(
                "        - name: data\n          emptyDir: {}\n",
                "        - name: data\n          configMap: {name: x}\n",
            ),
            "DATA_DIR /var/lib/load-harness is not a writable",
        ),
        (
            DEPLOYMENT,
            lambda t: t.replace("readOnlyRootFilesystem: true", "readOnlyRootFilesystem: false"),
            "readOnlyRootFilesystem is not true",
        ),
        (
            DOCKERFILE,
            lambda t: t.replace("ENV DATA_DIR=/var/lib/load-harness", "ENV DATA_DIR=/data"),
            "sets DATA_DIR=/data",
        ),
        (
            "applications/load-harness/src/load_harness/writable.py",
            lambda t: t.replace('"DATA_DIR"', '"CACHE_DIR": "/var/cache/lh", "DATA_DIR"'),
            "CACHE_DIR /var/cache/lh is not a tmpfs",
        ),
        (
            "applications/load-harness/src/load_harness/writable.py",
            lambda t: t.replace("WRITABLE_PATHS", "PATHS"),
            "no WRITABLE_PATHS",
        ),
    ],
    ids=[
        "k8s-unmounted",
        "k8s-read-only",
        "k8s-configmap",
        "k8s-writable-root",
        "image-env-moved",
        "new-path",
        "no-list",
    ],
)
def test_writable_paths_fail_elsewhere(
    tmp_path: Path, relative: Path | str, change: Callable[[str], str], needle: str
) -> None:
    root = good_copy(tmp_path)
    edit(root, relative, change)
    assert_fails_with(run(WritablePathsCheck, root), needle)
