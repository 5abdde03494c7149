"""Driver runs as a feature: what a stored run is (`model`), the service every way in calls (`service`: check,
create, get, stop, list), its rows (`repository`), the sink its shards report to (`store_sink`), what the API and
the dashboard show of it (`view`), the SSRF guard (`guard`) and Flagger's command lines (`cmdline`). The engine
that runs the load is `load_harness.driver`, which imports nothing from here."""
