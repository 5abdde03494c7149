"""`fleet eks calendar --refresh`: eks:DescribeClusterVersions, every page, merged and written where it belongs.

moto 5.2.5 does not implement DescribeClusterVersions, so a tiny local HTTP server answers boto3's real requests
with recorded-shape JSON (the botocore service model's ClusterVersionInformation fields), over two pages joined
by a nextToken: paging, signing, timestamp parsing and error parsing are botocore's own, not mocks.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from fleet import exits
from fleet.eks import app
from fleet.eks.calendar import VersionDates, load_calendar
from fleet.eks.calendar_file import REFRESH_NOTE
from local_servers import free_port
from typer.testing import CliRunner

runner = CliRunner()


def source_of(data: dict[str, Any], before: date) -> str:
    """The refresh's source line, checked to name the region and the UTC day it ran (between `before` and now,
    so a run across midnight is no flake)."""
    source: str = data["source"]
    prefix = "aws eks describe-cluster-versions, eu-west-2, "
    assert source.startswith(prefix)
    assert before <= date.fromisoformat(source.removeprefix(prefix)) <= datetime.now(UTC).date()
    return source


def utc_today() -> date:
    return datetime.now(UTC).date()


def flat(text: str) -> str:
    return " ".join(text.split())


@pytest.fixture(autouse=True)
def isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No real user calendar, profile or credentials: each test starts from the packaged calendar."""
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.delenv("FLEET_EKS_CALENDAR", raising=False)
    for name in ("AWS_PROFILE", "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    return tmp_path / "data" / "fleet" / "eks-versions.yaml"


def epoch(iso: str) -> float:
    return datetime.fromisoformat(iso).timestamp()


# Page 1 sends timestamps as epoch seconds (rest-json's wire default); page 2 as ISO 8601 with the Pacific
# offsets AWS's own CLI example shows ("2025-11-25T16:00:00-08:00" is 00:00 UTC on 2025-11-26). Versions and
# dates up to 1.35 are the EKS calendar's; 1.36's dates are INVENTED for this test, and so is 1.35's moved
# end of standard support (to see an AWS date override the packaged one).
PAGE_1 = {
    "clusterVersions": [
        {
            "clusterVersion": "1.28",
            "clusterType": "eks",
            "releaseDate": epoch("2023-09-26T00:00:00+00:00"),
            "endOfStandardSupportDate": epoch("2024-11-26T00:00:00+00:00"),
            "endOfExtendedSupportDate": epoch("2025-11-26T00:00:00+00:00"),
            "status": "unsupported",
            "versionStatus": "UNSUPPORTED",
        },
        {
            "clusterVersion": "1.34",
            "clusterType": "eks",
            "defaultPlatformVersion": "eks.9",
            "defaultVersion": False,
            "releaseDate": epoch("2025-10-02T00:00:00+00:00"),
            "endOfStandardSupportDate": epoch("2026-12-02T00:00:00+00:00"),
            "endOfExtendedSupportDate": epoch("2027-12-02T00:00:00+00:00"),
            "status": "standard-support",
            "versionStatus": "STANDARD_SUPPORT",
            "kubernetesPatchVersion": "1.34.2",
        },
        {"clusterVersion": "1.34", "clusterType": "eks-local-outposts", "endOfStandardSupportDate": 1.0},
    ],
    "nextToken": "page-2",
}
PAGE_2 = {
    "clusterVersions": [
        {
            "clusterVersion": "1.35",
            "clusterType": "eks",
            "releaseDate": "2026-01-27T16:00:00-08:00",
            "endOfStandardSupportDate": "2027-03-28T17:00:00-07:00",
            "endOfExtendedSupportDate": "2028-03-26T17:00:00-07:00",
            "versionStatus": "STANDARD_SUPPORT",
        },
        {
            "clusterVersion": "1.36",
            "clusterType": "eks",
            "defaultVersion": True,
            "releaseDate": "2026-05-31T17:00:00-07:00",
            "endOfStandardSupportDate": "2027-07-31T17:00:00-07:00",
            "endOfExtendedSupportDate": "2028-07-31T17:00:00-07:00",
            "versionStatus": "STANDARD_SUPPORT",
        },
        {"clusterVersion": "1.37", "clusterType": "eks", "versionStatus": "STANDARD_SUPPORT"},
    ]
}
Answer = tuple[int, dict[str, str], dict[str, Any]]


def paged(query: dict[str, list[str]]) -> Answer:
    page = PAGE_2 if query.get("nextToken") == ["page-2"] else PAGE_1
    return 200, {}, page


@pytest.fixture
def eks_api() -> Iterator[tuple[str, list[dict[str, Any]], list[Callable[[dict[str, list[str]]], Answer]]]]:
    """A local EKS endpoint: yields (url, requests seen, [responder]); replace responder[0] to change answers."""
    seen: list[dict[str, Any]] = []
    responder: list[Callable[[dict[str, list[str]]], Answer]] = [paged]

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            url = urlsplit(self.path)
            query = parse_qs(url.query)
            seen.append({"path": url.path, "query": query, "authorization": self.headers.get("Authorization", "")})
            status, headers, body = (
                responder[0](query) if url.path == "/cluster-versions" else (404, {}, {"message": "no such route"})
            )
            payload = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: Any) -> None:  # keep pytest output clean
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", seen, responder
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=30)


def refresh(url: str, *extra: str) -> tuple[int, dict[str, Any], str]:
    args = ["calendar", "--refresh", "--region", "eu-west-2", "--endpoint-url", url, "--json", *extra]
    result = runner.invoke(app, args)
    return result.exit_code, json.loads(result.stdout) if result.stdout.strip() else {}, flat(result.stderr)


def status(*args: str) -> dict[str, Any]:
    result = runner.invoke(app, ["status", *args, "--json"])
    assert result.exit_code in (0, 1, 4, 5), result.stderr
    data: dict[str, Any] = json.loads(result.stdout)
    return data


def test_refresh_pages_through_aws_merges_and_status_reads_the_user_calendar(eks_api: Any, isolated: Path) -> None:
    url, seen, _ = eks_api
    started = utc_today()
    code, data, stderr = refresh(url)
    assert code == exits.OK, stderr
    source = source_of(data, started)
    # Both pages asked for, the second with the first's token; every version, also past support; signed for EKS.
    assert [r["query"].get("nextToken") for r in seen] == [None, ["page-2"]]
    assert all(r["query"]["includeAll"] == ["true"] for r in seen)
    assert all("/eu-west-2/eks/aws4_request" in r["authorization"] for r in seen)
    assert data["written_to"] == str(isolated)
    assert data["returned_by_aws"] == 5  # 1.28, 1.34, 1.35, 1.36, 1.37; the Outposts row is another cluster type
    changes = {c["version"]: c for c in data["changes"]}
    assert changes["1.36"]["change"] == "added"
    assert changes["1.28"]["change"] == "added"
    # AWS's dates override the packaged ones; its -07:00 timestamps are UTC dates (17:00 -07:00 = next day 00:00).
    assert changes["1.35"]["change"] == "changed"
    assert changes["1.35"]["fields"] == {"end_of_standard": ["2027-03-27", "2027-03-29"]}
    assert changes["1.34"]["change"] == "confirmed"
    assert changes["1.37"]["change"] == "skipped"
    assert "no end-of-support dates" in changes["1.37"]["note"]
    for version in ("1.29", "1.30", "1.31", "1.32", "1.33"):
        assert changes[version]["change"] == "kept", "a row AWS did not return is never dropped"
    assert data["summary"] == {"added": 2, "changed": 1, "confirmed": 1, "kept": 5, "skipped": 1}

    written = load_calendar(isolated)
    assert written.versions["1.36"] == VersionDates(
        released=date(2026, 6, 1), end_of_standard=date(2027, 8, 1), end_of_extended=date(2028, 8, 1), source=source
    )
    assert written.versions["1.35"].released == date(2026, 1, 28)  # 16:00 -08:00 on the 27th
    assert written.versions["1.34"].source == source  # confirmed by AWS today
    assert written.versions["1.29"].source == "AWS EKS user guide, Kubernetes release calendar"
    assert "1.37" not in written.versions

    # `eks status` now reads the user calendar ahead of the packaged one.
    on_136 = status("--version", "1.36", "--date", "2026-11-26")
    assert (on_136["support"], on_136["days_left"], on_136["recommended_version"]) == ("standard", 248, "1.36")
    assert on_136["dates_source"] == source
    assert "user calendar" in on_136["calendar_file"]
    on_134 = status("--version", "1.34", "--date", "2026-11-26")
    assert on_134["recommended_version"] == "1.36"
    assert on_134["upgrade_path"] == ["1.35", "1.36"]


def test_human_refresh_output_says_what_changed(eks_api: Any, isolated: Path) -> None:
    url, _, _ = eks_api
    args = ["calendar", "--refresh", "--region", "eu-west-2", "--endpoint-url", url]
    result = runner.invoke(app, args, env={"COLUMNS": "200"})
    assert result.exit_code == exits.OK, result.stderr
    out = flat(result.stdout)
    assert "Asked aws eks describe-cluster-versions, eu-west-2, " in out
    assert ": 5 versions returned." in out
    assert "added 1.36: released 2026-06-01, end_of_standard 2027-08-01, end_of_extended 2028-08-01" in out
    assert "changed 1.35: end_of_standard 2027-03-27 -> 2027-03-29" in out
    assert "kept 1.29: not returned by AWS; kept from the calendar" in out
    assert "unchanged (dates confirmed by AWS): 1.34" in out
    assert f"Wrote {isolated}." in out


def test_refreshing_twice_keeps_the_header_and_one_refresh_note(eks_api: Any, isolated: Path) -> None:
    url, _, _ = eks_api
    started = utc_today()
    assert refresh(url)[0] == exits.OK
    first = load_calendar(isolated)
    code, data, _ = refresh(url)
    assert code == exits.OK
    second = isolated.read_text(encoding="utf-8")
    assert load_calendar(isolated).versions.keys() == first.versions.keys()
    assert second.count(REFRESH_NOTE) == 1
    assert f"{REFRESH_NOTE} from {source_of(data, started)}." in second
    assert second.startswith("# EKS Kubernetes version calendar"), "the packaged header comments are kept"
    _, data, _ = refresh(url)
    assert data["summary"]["changed"] == 0
    assert data["summary"]["added"] == 0


def test_output_and_dry_run(eks_api: Any, isolated: Path, tmp_path: Path) -> None:
    url, _, _ = eks_api
    out = tmp_path / "mine.yaml"
    code, data, _ = refresh(url, "--output", str(out))
    assert code == exits.OK
    assert data["written_to"] == str(out)
    assert "1.36" in load_calendar(out).versions
    assert not isolated.exists(), "--output writes only there"
    code, data, _ = refresh(url, "--dry-run")
    assert code == exits.OK
    assert (data["dry_run"], data["written_to"]) == (True, None)
    assert data["summary"]["added"] == 2
    assert not isolated.exists()


def test_calendar_flag_and_env_file_are_updated_in_place(
    eks_api: Any, isolated: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url, _, _ = eks_api
    own = tmp_path / "own.yaml"
    own.write_text(
        "# my calendar\nversions:\n"
        '  "1.33": {end_of_standard: 2026-07-29, end_of_extended: 2027-07-29, source: "my notes"}\n',
        encoding="utf-8",
    )
    code, data, _ = refresh(url, "--calendar", str(own))
    assert code == exits.OK
    assert data["written_to"] == str(own)
    refreshed = load_calendar(own)
    assert refreshed.versions["1.33"].source == "my notes"
    assert set(refreshed.versions) == {"1.28", "1.33", "1.34", "1.35", "1.36"}
    assert own.read_text(encoding="utf-8").startswith("# my calendar\n")
    assert not isolated.exists()
    # $FLEET_EKS_CALENDAR is the same file for every command: status reads it alone.
    monkeypatch.setenv("FLEET_EKS_CALENDAR", str(own))
    data = status("--version", "1.36", "--date", "2026-11-26")
    assert data["calendar_file"] == f"{own} ($FLEET_EKS_CALENDAR)"
    assert status("--version", "1.35", "--date", "2026-11-26")["calendar_newest_version"] == "1.36"


def test_aws_refusing_exits_remote_error_and_writes_nothing(eks_api: Any, isolated: Path) -> None:
    url, seen, responder = eks_api
    denied = {"message": "User is not authorized to perform: eks:DescribeClusterVersions"}
    responder[0] = lambda _query: (403, {"x-amzn-ErrorType": "AccessDeniedException"}, denied)
    code, data, stderr = refresh(url)
    assert code == exits.REMOTE_ERROR
    assert data == {}
    assert "eks:DescribeClusterVersions in eu-west-2 failed: AccessDeniedException" in stderr
    assert "the calendar is unchanged" in stderr
    assert len(seen) == 1, "a refusal is not retried"
    assert not isolated.exists()


def test_unreachable_endpoint_exits_remote_error() -> None:
    code, _, stderr = refresh(f"http://127.0.0.1:{free_port()}")
    assert code == exits.REMOTE_ERROR
    assert "EndpointConnectionError" in stderr


def test_refresh_needs_a_region_and_refresh_options_need_refresh(monkeypatch: pytest.MonkeyPatch) -> None:
    result = runner.invoke(app, ["calendar", "--refresh"])
    assert result.exit_code == exits.BAD_INPUT
    assert "--region: no region given" in flat(result.stderr)
    for args in (["--region", "eu-west-2"], ["--output", "x.yaml"], ["--dry-run"]):
        result = runner.invoke(app, ["calendar", *args])
        assert result.exit_code == exits.BAD_INPUT
        assert f"{args[0]} only applies with --refresh" in flat(result.stderr)


def test_an_unwritable_output_is_bad_input(eks_api: Any, tmp_path: Path) -> None:
    url, _, _ = eks_api
    blocker = tmp_path / "a-file"
    blocker.write_text("x", encoding="utf-8")
    code, _, stderr = refresh(url, "--output", str(blocker / "cal.yaml"))
    assert code == exits.BAD_INPUT
    assert f"--output {blocker / 'cal.yaml'}: cannot write" in stderr


def test_a_calendar_file_that_does_not_exist_yet_is_created_by_a_refresh(eks_api: Any, tmp_path: Path) -> None:
    url, _, _ = eks_api
    new = tmp_path / "team" / "eks.yaml"
    code, data, _ = refresh(url, "--calendar", str(new))
    assert code == exits.OK
    assert data["written_to"] == str(new)
    created = load_calendar(new)
    assert set(load_calendar().versions) < set(created.versions), "starts from the packaged rows, plus AWS's"
    assert new.read_text(encoding="utf-8").startswith("# EKS Kubernetes version calendar")
    # Only a refresh creates it: to read, a missing file is bad input.
    result = runner.invoke(app, ["status", "--version", "1.35", "--calendar", str(tmp_path / "missing.yaml")])
    assert result.exit_code == exits.BAD_INPUT
    assert "cannot read" in flat(result.stderr)
