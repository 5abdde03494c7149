"""What a web worker shares between requests: settings, the store engine, limits, the work pool and the metrics
providers (the dashboard's live panels and the API's autoscaling report read the same ones).

Kept on `app.extensions` (not module globals) so that tests can build several apps side by side."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime

from flask import current_app
from prometheus_client import CollectorRegistry
from sqlalchemy.engine import Engine

from load_harness.limits import PodLimits
from load_harness.observe import Providers, providers_for
from load_harness.settings import Settings
from load_harness.workloads.work import WorkPool, pool_size_for

KEY = "load_harness"


@dataclass
class AppServices:
    settings: Settings
    engine: Engine
    limits: PodLimits
    registry: CollectorRegistry
    _pool: WorkPool | None = None
    _pool_lock: threading.Lock = field(default_factory=threading.Lock)
    _warming: bool = False
    _providers: Providers | None = None

    def work_pool(self) -> WorkPool:
        # Created on first use (or by warm_work_pool), never during start-up, so cold start stays fast.
        if self._pool is None:
            with self._pool_lock:
                if self._pool is None:
                    self._pool = WorkPool(pool_size_for(self.limits.available_cores))
        return self._pool

    def warm_work_pool(self) -> None:
        """Start the pool in the background, once: otherwise the first /load/cpu/work requests of a run wait
        ~0.4 s for it, which shows up as a p99 spike. Called after a worker's first response, so it does not
        compete with getting ready. The pool's owner thread starts its processes and outlives this one."""
        if self._warming:
            return
        with self._pool_lock:
            if self._warming:
                return
            self._warming = True
        threading.Thread(target=self.work_pool, name="warm-work-pool", daemon=True).start()

    def providers(self) -> Providers:
        """The app's one set of metrics providers, made on first use: the local provider keeps the previous sample
        it computes rates from, so every reader must share it."""
        if self._providers is None:
            with self._pool_lock:
                if self._providers is None:
                    self._providers = providers_for(self.settings, self.engine, self.limits)
        return self._providers

    def use_providers(self, providers: Providers) -> None:
        """Replace the providers (tests inject recorded sources; nothing else needs to)."""
        self._providers = providers

    def close(self) -> None:
        if self._pool is not None:
            self._pool.close()


def ctx() -> AppServices:
    context: AppServices = current_app.extensions[KEY]
    return context


def iso(ts: float | None) -> str | None:
    return None if ts is None else datetime.fromtimestamp(ts, UTC).isoformat().replace("+00:00", "Z")


def now_iso() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")
