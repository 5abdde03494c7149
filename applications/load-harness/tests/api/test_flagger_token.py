"""FLAGGER_TOKEN: a key that opens the load-test webhook and nothing else.

Flagger sends no headers, so its credential must sit in the Canary object as metadata.token, readable by anyone who
may read Canaries. With FLAGGER_TOKEN, that credential can start bounded runs against the allowed canary hosts and
nothing more; the API key stays out of the Canary."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from load_harness.settings import Settings

CANARY = "http://podinfo-canary.test:9898/"
PATH = "/flagger/load-test"


def payload(token: str | None) -> dict[str, Any]:
    metadata = {"url": CANARY, "rate": "2", "duration": "5s"}
    if token is not None:
        metadata["token"] = token
    return {"name": "podinfo", "namespace": "test", "phase": "Progressing", "metadata": metadata}


@pytest.fixture
def both(app_factory: Callable[..., Flask]) -> Flask:
    return app_factory(driver_allowed_hosts="podinfo-canary.test:9898", api_key="api-key", flagger_token="hook")


def test_the_flagger_token_starts_a_run(both: Flask) -> None:
    response = both.test_client().post(PATH, json=payload("hook"))
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.get_json()["status"] == "started"


def test_the_api_key_still_works_on_the_webhook(both: Flask) -> None:
    response = both.test_client().post(PATH, json=payload("api-key"))
    assert response.status_code == 200, response.get_data(as_text=True)


@pytest.mark.parametrize("token", [None, "", "wrong", "hook2", "hoo"])
def test_without_a_right_token_the_webhook_is_refused(both: Flask, token: str | None) -> None:
    response = both.test_client().post(PATH, json=payload(token))
    assert response.status_code == 401
    assert "FLAGGER_TOKEN" in response.get_json()["detail"]


@pytest.mark.parametrize("where", ["header", "bearer"])
def test_the_flagger_token_opens_nothing_else(both: Flask, where: str) -> None:
    client = both.test_client()
    headers = {"X-API-Key": "hook"} if where == "header" else {"Authorization": "Bearer hook"}
    assert client.get("/runs", headers=headers).status_code == 401
    assert client.get("/runs", headers={"X-API-Key": "api-key"}).status_code == 200


def test_a_flagger_token_alone_guards_the_webhook(app_factory: Callable[..., Flask]) -> None:
    client = app_factory(driver_allowed_hosts="podinfo-canary.test:9898", flagger_token="hook").test_client()
    assert client.post(PATH, json=payload(None)).status_code == 401
    assert client.post(PATH, json=payload("hook")).status_code == 200


def test_the_token_is_read_from_a_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "token").write_text("from-file\n", encoding="utf-8")
    monkeypatch.setenv("FLAGGER_TOKEN_FILE", str(tmp_path / "token"))
    monkeypatch.delenv("FLAGGER_TOKEN", raising=False)
    assert Settings().flagger_token == "from-file"
