"""The pod's supervisor: the one process that owns job processes (see docs/architecture.md)."""

from load_harness.supervisor.core import Supervisor
from load_harness.wakeup import wake

__all__ = ["Supervisor", "wake"]
