"""`load-harness serve`."""

from __future__ import annotations

import typer


def serve_command(
    host: str = typer.Option(None, help="Address to listen on [env HOST, default 127.0.0.1]"),
    port: int = typer.Option(None, help="Port [env PORT, default 8080]"),
    workers: int = typer.Option(None, min=1, max=64, help="gunicorn web workers [env WEB_WORKERS, default 1]"),
    threads: int = typer.Option(None, min=1, max=256, help="Threads per worker [env WEB_THREADS, default 16]"),
    reload: bool = typer.Option(False, "--reload", help="Restart web workers when code changes (development)"),
) -> None:
    """Serve LoadHarness: the supervisor and gunicorn web workers."""
    # Imported here, not at the top: `load-harness drive` shares this package and should not pay for them.
    from load_harness.server.runner import Server
    from load_harness.settings import get_settings
    from load_harness.telemetry.logging import configure_logging

    settings = get_settings()
    overrides = {k: v for k, v in {"host": host, "port": port}.items() if v is not None}
    if overrides:
        settings = settings.model_copy(update=overrides)
    configure_logging(settings, component="serve")
    server = Server(settings, workers=workers or settings.workers, threads=threads or settings.threads, reload=reload)
    raise typer.Exit(server.run())
