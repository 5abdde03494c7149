"""Persisted driver runs: the store-backed sink, the SSRF guard, launching shards, and the run views."""
