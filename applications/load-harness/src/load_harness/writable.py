"""The directories LoadHarness writes to: the image runs with a read-only root filesystem, so each must be a
writable mount (an emptyDir in the Deployment, a tmpfs or volume in compose.yaml). `fleet validate`
(writable-paths) reads WRITABLE_PATHS as a literal from this file, and tests/test_writable_paths.py records every
file the running app writes and proves each lies under one of these directories.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

# The variable that moves each directory, and where it is in the image (Dockerfile ENV; /tmp is Python's default
# when TMPDIR is unset). A literal dict on purpose: fleet validate reads it without importing the app.
WRITABLE_PATHS: dict[str, str] = {
    # `serve`'s runtime dir (tempfile.mkdtemp: draining flag, Prometheus multiprocess files), gunicorn's worker
    # heartbeat files, the driver's temporary files.
    "TMPDIR": "/tmp",  # noqa: S108 - the image's temporary directory, a tmpfs/emptyDir mount
    # The default SQLite store (settings.data_dir); unused with DATABASE_URL, still kept writable.
    "DATA_DIR": "/var/lib/load-harness",
}


def writable_dirs(environ: Mapping[str, str] = os.environ) -> list[Path]:
    """The directories this process may write, resolved against `environ` (the image's paths by default)."""
    return [Path(environ.get(name) or default) for name, default in WRITABLE_PATHS.items()]
