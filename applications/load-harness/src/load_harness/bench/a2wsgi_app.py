"""The app as ASGI, for the servers ADR 0006 compared that speak only ASGI (uvicorn, gunicorn's ASGI worker).
a2wsgi is not a dependency: `python -m load_harness.bench.slowclients --alternatives DIR` puts it on the path."""

from a2wsgi import WSGIMiddleware

from load_harness.server.wsgi import app as wsgi_app

# As many threads for the WSGI app as gunicorn gives it.
app = WSGIMiddleware(wsgi_app, workers=16)
