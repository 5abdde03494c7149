"""`fleet capacity`: max pods per node and the pod budget."""

from fleet.capacity.cli import app

__all__ = ["app"]
