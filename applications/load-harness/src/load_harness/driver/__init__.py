"""The load driver engine: plans, an HTTP/1.1 client, HDR recording, the run loop, shard launching and summaries.

Public entry points: `RunSpec` → `build_plan` → `Plan` (what to run), `Runner(plan, sink=...).run()` (one
process), `ShardProcesses` (N processes), `merge(states)` and `summarize(state)` over the typed `DriverState`
and `Summary`, and the `RunSink` protocol for persistence. The engine never imports the store or Flask: a
store-backed sink is passed in by the caller (runs/store_sink.py).
"""

from load_harness.driver.client import DriverError
from load_harness.driver.launcher import ShardProcesses
from load_harness.driver.options import build_plan, spec_from_cli
from load_harness.driver.plan import Plan, Stage, constant_plan, parse_duration, parse_stages
from load_harness.driver.runner import LiveStats, Runner
from load_harness.driver.sink import NullSink, RunSink, TeeSink
from load_harness.driver.spec import RunSpec, make_spec
from load_harness.driver.state import STATE_FORMAT, DriverState, RunMeta, StopReason, Summary
from load_harness.driver.summary import merge, summarize

__all__ = [
    "STATE_FORMAT",
    "DriverError",
    "DriverState",
    "LiveStats",
    "NullSink",
    "Plan",
    "RunMeta",
    "RunSink",
    "RunSpec",
    "Runner",
    "ShardProcesses",
    "Stage",
    "StopReason",
    "Summary",
    "TeeSink",
    "build_plan",
    "constant_plan",
    "make_spec",
    "merge",
    "parse_duration",
    "parse_stages",
    "spec_from_cli",
    "summarize",
]
