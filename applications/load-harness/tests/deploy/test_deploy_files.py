"""The shipped deployment files are valid: the Indexed Job renders to a strict-valid Kubernetes Job whose
command is the driver's shard command, and the Dockerfile runs as non-root with the CLI as entrypoint."""

from __future__ import annotations

from pathlib import Path
from string import Template

import kubernetes_validate
import yaml

APP = Path(__file__).resolve().parents[2]


def test_indexed_job_renders_to_a_valid_job() -> None:
    text = Template((APP / "deploy" / "driver-indexed-job.yaml").read_text())
    rendered = yaml.safe_load(text.safe_substitute(RUN_ID="run-1", SHARDS="4", IMAGE="registry.local/load-harness:v2"))
    kubernetes_validate.validate(rendered, "1.34.0", strict=True)
    spec = rendered["spec"]
    assert spec["completionMode"] == "Indexed"
    assert spec["completions"] == spec["parallelism"] == 4
    args = spec["template"]["spec"]["containers"][0]["args"]
    assert args[:4] == ["drive", "--run-id=run-1", "--shard-index=$(JOB_COMPLETION_INDEX)", "--shards=4"]
    assert spec["template"]["spec"]["securityContext"]["runAsNonRoot"] is True


def test_dockerfile_runs_as_non_root_with_the_cli_entrypoint() -> None:
    lines = [line.strip() for line in (APP / "Dockerfile").read_text().splitlines()]
    final_stage = lines[max(i for i, line in enumerate(lines) if line.startswith("FROM ")) :]
    assert any(line.startswith("USER 10001") for line in final_stage)
    assert 'ENTRYPOINT ["load-harness"]' in final_stage
