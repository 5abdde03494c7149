"""`load-harness drive --save`: a CLI run recorded in the store, so it shows in the dashboard and the API.

With --shards N the shards are N processes running exactly what an Indexed Job's pods run
(`load-harness drive --run-id X --shard-index I --shards N`); each writes its own row, and this process follows
the run by merging those rows once a second. One machine's cores are used, and the merge path is the one that
spans pods."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable
from typing import Any

from load_harness.driver.plan import Plan
from load_harness.driver.summary import merge
from load_harness.store import runs as run_store
from load_harness.store.engine import get_engine
from load_harness.supervisor.runs import shard_command
from load_harness.workloads.lifeline import set_parent_death_signal

POLL_S = 1.0


def create_cli_run(plan: Plan, shards: int, thresholds: list[str]) -> str:
    run = run_store.create(
        get_engine(),
        target=plan.url,
        plan=plan.to_dict(),
        options={"thresholds": thresholds, "placement": "cli"},
        shards=shards,
        source="cli",
        pod=None,
    )
    return run.id


def merged_state(run_id: str) -> dict[str, Any] | None:
    states = [s.state for s in run_store.shards_of(get_engine(), run_id) if s.state]
    return merge(states) if states else None


def drive_shards(run_id: str, shards: int, on_state: Callable[[dict[str, Any]], None] | None = None) -> dict[str, Any]:
    """Start the shard processes, follow the merged state, and return it once every shard has exited.

    Ctrl-C here asks the run to stop through the store, exactly as the API's stop does."""
    processes = [
        subprocess.Popen(
            shard_command(run_id, index, shards), stdout=subprocess.DEVNULL, preexec_fn=set_parent_death_signal
        )
        for index in range(shards)
    ]
    try:
        while any(p.poll() is None for p in processes):
            time.sleep(POLL_S)
            state = merged_state(run_id)
            if state is not None and on_state is not None:
                on_state(state)
    except KeyboardInterrupt:
        run_store.request_stop(get_engine(), run_id)
        for proc in processes:
            proc.wait()
    state = merged_state(run_id)
    if state is None:
        codes = [p.returncode for p in processes]
        raise RuntimeError(f"no shard of run {run_id} reported (exit codes {codes}); see their stderr above")
    return state
