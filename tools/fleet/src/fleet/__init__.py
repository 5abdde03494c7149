"""fleet: the platform operations CLI."""

__version__ = "0.1.0"
