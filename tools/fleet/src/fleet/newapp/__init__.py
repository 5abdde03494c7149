"""`fleet new-app`: scaffold an application's Kubernetes manifests."""

from fleet.newapp.cli import new_app_command

__all__ = ["new_app_command"]
