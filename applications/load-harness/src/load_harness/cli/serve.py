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
    from load_harness.server.process_tree import Server
    from load_harness.settings import apply_serve_options
    from load_harness.telemetry.logging import configure_logging

    # Not a copy of the settings for this process only: the workers, the supervisor and the SSRF guard all read
    # get_settings(), so the options must become the settings every process sees.
    settings = apply_serve_options(host=host, port=port, workers=workers, threads=threads)
    configure_logging(settings, component="serve")
    server = Server(settings, workers=settings.workers, threads=settings.threads, reload=reload)
    raise typer.Exit(server.run())
