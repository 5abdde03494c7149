"""`python -m load_harness` is the `load-harness` command (used to start driver shards without relying on PATH)."""

from load_harness.cli import main

main()
