"""Telemetry: structured logs with a request id, and Prometheus metrics that are correct under gunicorn."""
