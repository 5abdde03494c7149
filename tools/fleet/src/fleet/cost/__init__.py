"""`fleet cost`: the monthly cost model (estimate) and the destroy-vs-idle break-even."""

from fleet.cost.cli import app

__all__ = ["app"]
