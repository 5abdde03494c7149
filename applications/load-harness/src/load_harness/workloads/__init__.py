"""Workloads that measure themselves: the CPU duty-cycle burner, the memory holder and per-request work.

Pure and testable without HTTP. Long-running workloads run in child processes bound to their parent's life
(``lifeline``), so a killed supervisor or web worker never leaves load behind.
"""
