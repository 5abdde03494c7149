"""The WSGI entry point gunicorn loads in each web worker."""

from load_harness.app import create_app
from load_harness.settings import get_settings
from load_harness.telemetry.logging import configure_logging

configure_logging(get_settings(), component="web")
app = create_app()
