"""LoadHarness: a workload target, load driver and live observer for Kubernetes platforms."""

__version__ = "2.0.0"
