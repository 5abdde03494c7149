"""Running `fleet cleanup` in a test: dummy AWS credentials that can never reach a real account, and the command
invoked in-process as the CLI wires it."""

from __future__ import annotations

from typing import Any


def fake_credentials(monkeypatch: Any) -> None:
    """Point boto3 at dummy credentials and away from any real profile or config file."""
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN", "AWS_DEFAULT_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent/aws-config")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/aws-credentials")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    # moto builds thousands of sample AMIs per EC2 backend otherwise (half a second per test).
    monkeypatch.setenv("MOTO_EC2_LOAD_DEFAULT_AMIS", "false")


def run_cleanup(*args: str) -> Any:
    """Invoke `fleet cleanup` in-process, as the CLI wires it, and return click's Result."""
    import typer
    from fleet.cleanup import cleanup_command
    from typer.testing import CliRunner

    app = typer.Typer()
    app.command()(cleanup_command)
    return CliRunner().invoke(app, list(args))
