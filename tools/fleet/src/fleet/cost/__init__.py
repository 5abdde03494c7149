"""`fleet cost`: the monthly cost model (estimate, compare), the destroy-vs-idle break-even, and an audit of stated
cost figures."""

from fleet.cost.cli import app

__all__ = ["app"]
