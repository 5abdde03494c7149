"""Orphaned-resource cleanup after an EKS cluster is destroyed (`fleet cleanup`)."""

from fleet.cleanup.command import cleanup_command

__all__ = ["cleanup_command"]
