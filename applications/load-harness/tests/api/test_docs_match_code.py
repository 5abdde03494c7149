"""Docs stay true: every setting is in the README's table, every metric in docs/metrics.md."""

from __future__ import annotations

import re
from pathlib import Path

from flask.testing import FlaskClient
from load_harness.settings import Settings
from pydantic import AliasChoices

ROOT = Path(__file__).resolve().parents[4]


def env_names(name: str) -> list[str]:
    field = Settings.model_fields[name]
    alias = field.validation_alias
    if isinstance(alias, AliasChoices):
        return [str(choice) for choice in alias.choices]
    return [name.upper()]


def test_readme_documents_every_setting() -> None:
    readme = (ROOT / "README.md").read_text()
    table = readme.split("## Settings", 1)[1].split("\n## ", 1)[0]
    missing = [name for name in Settings.model_fields if not any(f"`{env}`" in table for env in env_names(name))]
    assert not missing, f"README settings table lacks: {missing}"


def test_metrics_doc_lists_every_exposed_metric(client: FlaskClient) -> None:
    client.get("/health")
    exposed = set(re.findall(r"^# TYPE (\S+) ", client.get("/metrics").get_data(as_text=True), re.M))
    ours = {name for name in exposed if name.startswith(("load_harness_", "flask_http_"))}
    doc = (ROOT / "docs" / "metrics.md").read_text()
    missing = sorted(name for name in ours if f"`{name}" not in doc)
    assert not missing, f"docs/metrics.md lacks: {missing}"
