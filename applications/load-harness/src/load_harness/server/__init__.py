"""Process management for `load-harness serve`: the supervisor, gunicorn, and an orderly shutdown."""
