"""`workflow-invariants`: the good fixture passes; each broken variant, made by replacing one exact piece of a copy
of it in tmp_path, fails for its own reason. Pure Python: no tool runs here."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from fleet.validate.base import Context, Status
from fleet.validate.workflows import WorkflowInvariantsCheck

GOOD = Path(__file__).parent / "fixtures" / "workflows" / "good"
WORKFLOW = Path(".github/workflows/infra.yml")
CHECKOUT = "actions/checkout@3d3c42e5aac5ba805825da76410c181273ba90b1 # v7.0.1"
AWS = "aws-actions/configure-aws-credentials@e6de054238d6b7531b4efff3b6587d9aade6a06c"
DESTROY_GROUP = "      group: infra-${{ inputs.environment || 'staging' }}\n"


def _variant(tmp_path: Path, old: str, new: str, count: int = 1) -> list[str]:
    """The errors for the good fixture with `old` replaced by `new` (the first `count` times; 0 = all)."""
    root = tmp_path / "repo"
    shutil.copytree(GOOD, root)
    path = root / WORKFLOW
    text = path.read_text(encoding="utf-8")
    assert old in text, f"the fixture no longer contains {old!r}"
    path.write_text(text.replace(old, new, count if count else -1), encoding="utf-8")
    result = WorkflowInvariantsCheck().run(Context(root=root))
    assert result.ok == (not result.errors)
    return result.errors


def _job(name: str) -> str:
    """The text of one job of the fixture, from its key to the next job's."""
    text = (GOOD / WORKFLOW).read_text(encoding="utf-8")
    match = re.search(rf"^  {name}:\n.*?(?=^  \w+:\n|\Z)", text, re.MULTILINE | re.DOTALL)
    assert match, name
    return match.group(0)


def test_good_fixture_passes() -> None:
    result = WorkflowInvariantsCheck().run(Context(root=GOOD))
    assert result.errors == []
    assert result.status == Status.PASS
    assert result.summary == "1 file(s), 4 Terraform job(s)"


def test_no_workflows_is_nothing_not_a_pass(tmp_path: Path) -> None:
    assert WorkflowInvariantsCheck().run(Context(root=tmp_path)).status == Status.NOTHING


@pytest.mark.parametrize(
    ("old", "new", "count", "expected"),
    [
        pytest.param(CHECKOUT, "actions/checkout@v7", 1, "`uses: actions/checkout@v7` is not pinned", id="tag-ref"),
        pytest.param(
            CHECKOUT, "actions/checkout@3d3c42e", 1, "`uses: actions/checkout@3d3c42e` is not pinned", id="short-sha"
        ),
        pytest.param(f"{AWS} # v6.2.3", AWS, 1, "needs a `# vX.Y.Z` comment", id="no-version-comment"),
        pytest.param(
            f"{AWS} # v6.2.3", f"{AWS} # v6.2.2", 1, "is called v6.2.3 here and v6.2.2 on line 31", id="two-versions"
        ),
        pytest.param(
            'run: echo "$TITLE"',
            'run: echo "${{ secrets.DEPLOY_TOKEN }}"',
            1,
            "infra.yml:113: notify.steps[0]: `${{ secrets.DEPLOY_TOKEN }}` is expanded into the script",
            id="secret-in-run",
        ),
        pytest.param(
            'run: echo "$TITLE"',
            "run: echo ${{github.event.pull_request.title}}",
            1,
            "`${{github.event.pull_request.title}}` is expanded into the script",
            id="event-in-run",
        ),
        pytest.param(
            "core.info(body);",
            "core.info('${{ github.head_ref }}');",
            1,
            "plan.steps[3]: `${{ github.head_ref }}` is expanded into the script",
            id="head-ref-in-github-script",
        ),
        pytest.param(
            'run: echo "$TITLE"',
            'run: echo "${{ vars.AWS_REGION }} ${{ inputs.environment }}"',
            1,
            "`${{ inputs.environment }}` is expanded",
            id="input-in-run",
        ),
        pytest.param("permissions: {}\n\njobs:", "jobs:", 1, "no top-level `permissions:`", id="no-permissions"),
        pytest.param(
            "permissions: {}\n\njobs:",
            "permissions:\n  contents: write\n\njobs:",
            1,
            "top-level permissions grant contents: write",
            id="top-level-write",
        ),
        pytest.param(
            "    permissions:\n      contents: read\n    steps:\n      - env:\n          TITLE",
            "    permissions:\n      contents: read\n      id-token: write\n    steps:\n      - env:\n          TITLE",
            1,
            "job notify has id-token: write but assumes no AWS role",
            id="id-token-without-aws",
        ),
        pytest.param("    timeout-minutes: 5\n", "", 1, "job notify has no timeout-minutes", id="no-timeout"),
        pytest.param(
            "        with:\n          persist-credentials: false\n",
            "",
            1,
            "plan.steps[0]: actions/checkout without `persist-credentials: false`",
            id="persisted-credentials",
        ),
        pytest.param(
            DESTROY_GROUP,
            "      group: destroy-${{ inputs.environment || 'staging' }}\n",
            1,
            "job destroy (destroy) for staging uses concurrency group 'destroy-staging', not 'infra-staging'",
            id="destroy-in-another-group",
        ),
        pytest.param(
            "      group: infra-staging\n      cancel-in-progress: false",
            "      group: infra-staging\n      cancel-in-progress: true",
            1,
            "job apply (apply): cancel-in-progress must be false",
            id="apply-cancellable",
        ),
        pytest.param(
            "    environment: staging\n", "", 1, "job apply (apply) has no `environment:`", id="apply-no-environment"
        ),
        pytest.param(
            "      group: infra-staging\n      cancel-in-progress: false\n",
            "",
            1,
            "job apply (apply) has no concurrency group",
            id="apply-no-concurrency",
        ),
        pytest.param(
            "${{ vars.AWS_PLAN_ROLE_ARN }}",
            "${{ vars.AWS_APPLY_ROLE_ARN }}",
            1,
            "job plan (plan) assumes the apply role",
            id="plan-with-apply-role",
        ),
        pytest.param(
            "${{ vars.AWS_APPLY_ROLE_ARN }}",
            "${{ vars.AWS_PLAN_ROLE_ARN }}",
            1,
            "job apply (apply) does not assume the apply role",
            id="apply-with-plan-role",
        ),
        pytest.param(
            "inputs.environment || 'staging'",
            "inputs.environment",
            0,
            "job destroy (destroy): the environment is empty when the input is not given",
            id="scheduled-destroy-without-fallback",
        ),
        pytest.param(
            "    environment: ${{ matrix.environment }}\n",
            "    environment: ${{ github.ref_name }}\n",
            1,
            "cannot tell what `${{github.ref_name}}` is",
            id="unresolvable-environment",
        ),
        pytest.param(_job("destroy"), "", 1, "no workflow job is a Terraform destroy", id="no-destroy-job"),
        pytest.param(
            "        environment: [staging]",
            "        environment: [production]",
            1,
            "staging has an apply job but no rebuild job in group infra-staging",
            id="rebuild-misses-staging",
        ),
        pytest.param(
            "terraform plan -lock=false",
            "echo no plan",
            1,
            "no workflow job runs `terraform plan`",
            id="no-plan-job",
        ),
    ],
)
def test_each_broken_variant_fails_for_its_reason(
    tmp_path: Path, old: str, new: str, count: int, expected: str
) -> None:
    errors = _variant(tmp_path, old, new, count)
    assert any(expected in e for e in errors), errors


def test_apply_destroy_flag_counts_as_destroy(tmp_path: Path) -> None:
    # `terraform apply -destroy` destroys: it must meet the destroy rules, so a wrong group is caught for it too.
    destroy = _job("destroy")
    broken = destroy.replace("terraform destroy", "terraform apply -destroy").replace(DESTROY_GROUP, "      group: x\n")
    errors = _variant(tmp_path, destroy, broken)
    assert any("job destroy (destroy) for staging uses concurrency group 'x'" in e for e in errors), errors


def test_an_unparsable_workflow_is_an_error(tmp_path: Path) -> None:
    errors = _variant(tmp_path, "jobs:\n", "jobs: [\n")
    assert any("infra.yml: cannot parse" in e for e in errors), errors
