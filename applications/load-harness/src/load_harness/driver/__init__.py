"""The load driver engine: plans, an HTTP/1.1 client, HDR recording, the run loop, shards and summaries.

Public entry points: `Plan` (what to run), `Runner(plan, sink=...).run()` (one process), `run_local_shards`
(N processes), `merge(states)` and `summarize(state)`, and the `RunSink` protocol for persistence.
The engine never imports the store or Flask: a store-backed sink is registered via `register_sink_factory`.
"""

from load_harness.driver.client import DriverError
from load_harness.driver.plan import Plan, Stage, constant_plan, parse_duration, parse_stages
from load_harness.driver.runner import LiveStats, Runner
from load_harness.driver.shards import run_local_shards
from load_harness.driver.sink import NullSink, RunMeta, RunSink, register_sink_factory
from load_harness.driver.summary import STATE_FORMAT, merge, summarize

__all__ = [
    "STATE_FORMAT",
    "DriverError",
    "LiveStats",
    "NullSink",
    "Plan",
    "RunMeta",
    "RunSink",
    "Runner",
    "Stage",
    "constant_plan",
    "merge",
    "parse_duration",
    "parse_stages",
    "register_sink_factory",
    "run_local_shards",
    "summarize",
]
