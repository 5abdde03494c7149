"""The WSGI entry point: the app gunicorn serves (imported once by serve, or by gunicorn with --reload)."""

from load_harness.app import create_app

app = create_app()
