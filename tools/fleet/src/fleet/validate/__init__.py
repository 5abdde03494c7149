"""`fleet validate`: offline platform checks behind a small registry (see base.py to add one)."""

from fleet.validate import checks as _checks  # noqa: F401  (registers the checks, in order)
from fleet.validate.cli import validate_command

__all__ = ["validate_command"]
