"""gunicorn embedded: the arbiter runs in a child that serve forked after importing the app."""

from __future__ import annotations

from typing import Any

from flask import Flask
from gunicorn.app.base import BaseApplication

from load_harness.server import gunicorn_conf

SETTINGS = (
    "bind",
    "workers",
    "threads",
    "worker_class",
    "graceful_timeout",
    "timeout",
    "keepalive",
    "accesslog",
    "errorlog",
    "loglevel",
    "proc_name",
    "control_socket_disable",
    "child_exit",
    "post_fork",
    "worker_exit",
)


class EmbeddedGunicorn(BaseApplication):
    def __init__(self, app: Flask) -> None:
        self.application = app
        super().__init__()

    def load_config(self) -> None:
        for name in SETTINGS:
            if hasattr(gunicorn_conf, name):
                self.cfg.set(name, getattr(gunicorn_conf, name))

    def load(self) -> Flask:
        return self.application


def run_gunicorn(app: Flask) -> Any:
    return EmbeddedGunicorn(app).run()
