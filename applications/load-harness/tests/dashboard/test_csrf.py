"""Every state-changing dashboard request needs the session's CSRF token (header or form field)."""

from __future__ import annotations

from typing import Any

import pytest

POSTS = [
    "/ui/cpu",
    "/ui/memory",
    "/ui/cpu/validate?field=cores",
    "/ui/memory/validate?field=size_mb",
    "/ui/cluster",
    "/ui/cluster/validate?field=target",
    "/ui/cluster/preview",
    "/ui/jobs/job_1/stop",
    "/ui/runs/run_a/stop",
    "/ui/logout",
    "/ui/login",
]


@pytest.mark.parametrize("path", POSTS)
def test_post_without_token_is_forbidden(ui: Any, path: str) -> None:
    ui.refresh_token()
    response = ui.client.post(path, data={"cores": "1"}, headers={"HX-Request": "true"})
    assert response.status_code == 403
    assert "security token" in response.get_data(as_text=True)


@pytest.mark.parametrize("path", POSTS)
def test_post_with_a_wrong_token_is_forbidden(ui: Any, path: str) -> None:
    ui.refresh_token()
    response = ui.client.post(path, headers={"X-CSRF-Token": "forged"})
    assert response.status_code == 403


def test_plain_form_post_without_token_gets_a_full_page(ui: Any) -> None:
    ui.refresh_token()
    response = ui.client.post("/ui/cpu", data={"cores": "1"})
    assert response.status_code == 403
    assert response.get_data(as_text=True).startswith("<!doctype html>")


def test_token_in_header_or_form_field_is_accepted(ui: Any) -> None:
    token = ui.refresh_token()
    body = {"cores": "1", "utilization": "10", "duration_seconds": "5"}
    assert ui.client.post("/ui/cpu/validate?field=cores", data=body, headers={"X-CSRF-Token": token}).status_code == 200
    assert ui.client.post("/ui/cpu/validate?field=cores", data={**body, "csrf_token": token}).status_code == 200


def test_token_from_another_session_is_refused(app: Any) -> None:
    first, second = app.test_client(), app.test_client()
    import re

    html = first.get("/ui/").get_data(as_text=True)
    token = re.search(r'name="csrf-token" content="([^"]+)"', html).group(1)  # type: ignore[union-attr]
    second.get("/ui/")
    assert second.post("/ui/cpu", headers={"X-CSRF-Token": token}).status_code == 403


def test_get_requests_need_no_token(ui: Any) -> None:
    assert ui.client.get("/ui/partials/active").status_code == 200
