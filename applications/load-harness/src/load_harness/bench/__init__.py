"""Benchmarks: measured figures for the workloads (and, later, the driver), comparable with the peers."""
