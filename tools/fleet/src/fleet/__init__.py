"""fleet: the platform operations CLI."""

from importlib.metadata import PackageNotFoundError, version

try:
    # The installed distribution's version, so `fleet --version` never disagrees with pyproject.toml.
    __version__ = version("fleet")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+unknown"
