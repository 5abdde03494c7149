"""`fleet catalog`: the service catalog built from the annotations `fleet new-app` writes."""

from fleet.catalog.cli import catalog_command

__all__ = ["catalog_command"]
