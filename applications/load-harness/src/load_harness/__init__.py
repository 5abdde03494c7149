"""LoadHarness: a workload target, load driver and live observer for Kubernetes platforms."""

from importlib.metadata import PackageNotFoundError, version

try:
    # The installed distribution's version: pyproject.toml is its one home, and the one file release-please bumps.
    __version__ = version("load-harness")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+unknown"
