"""`fleet eks`: EKS version support status."""

from fleet.eks.cli import app

__all__ = ["app"]
