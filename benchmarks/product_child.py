"""The product's side of a sync benchmark: one full sync, run as a child process.

Started by `sync_runs.measure` (`.venv/bin/python benchmarks/product_child.py`), perhaps
with another source tree first on PYTHONPATH, so the `pipelines` imported here are that
tree's. Everything comes from the environment: `BENCH_BASE_URL` (the API root),
`BENCH_DATABASE_URL` (a fresh database: the migrations are applied before the timer
starts), the `TAMPUURI_*` credentials, optionally `BENCH_PAGE_CONCURRENCY` and
`BENCH_SCOPE_CONCURRENCY` (override config/sync.yaml's values; the file is not touched)
`BENCH_PROFILE` (a cProfile report path) and `BENCH_SIMULATOR_PID` (whose CPU to count).
Prints one JSON line of figures, with the CPU seconds spent during the sync (`cpu_s`:
the event loop's thread, this process, the PostgreSQL server, the simulator).
"""

from __future__ import annotations

import dataclasses
import json
import os
import time
from typing import Any

import cpu_accounting

ACCOUNT = "bench"


def _overridden(settings: Any, environ: dict[str, str]) -> Any:
    """The sync settings with the BENCH_* overrides (a dataclass or a pydantic model)."""
    update = {
        name: int(environ[f"BENCH_{name.upper()}"])
        for name in ("page_concurrency", "scope_concurrency")
        if environ.get(f"BENCH_{name.upper()}")
    }
    if hasattr(settings, "model_copy"):
        return settings.model_copy(update=update)
    return dataclasses.replace(settings, **update)


class CpuMeter:
    """CPU seconds around the sync (`cpu_accounting`): the event loop's thread, this whole
    process, the PostgreSQL server and the simulator process (when its pid is given)."""

    def __init__(self, database_url: str, simulator_pid: str | None) -> None:
        self._postmaster = cpu_accounting.postmaster_pid(database_url.replace("+psycopg", ""))
        self._simulator = int(simulator_pid) if simulator_pid else None
        self._start = self._read()

    def _read(self) -> dict[str, float | None]:
        return {
            "loop": cpu_accounting.thread_seconds(),
            "product": cpu_accounting.process_seconds(os.getpid()),
            "postgres": cpu_accounting.postgres_seconds(self._postmaster),
            "simulator": (
                cpu_accounting.process_seconds(self._simulator) if self._simulator else None
            ),
        }

    def since_start(self) -> dict[str, float | None]:
        end = self._read()
        spent: dict[str, float | None] = {}
        for name, begun in self._start.items():
            ended = end[name]
            spent[name] = (
                round(ended - begun, 3) if begun is not None and ended is not None else None
            )
        return spent


def product_child() -> None:
    """Run the product's full sync (inside the child); print one JSON line of figures."""
    import resource

    from pipelines.settings import SINGLE_ACCOUNT_VARIABLES, AccountConfig, load_sync_settings
    from pipelines.sync.engine import SyncRequest, run_sync
    from pipelines.warehouse.engine import make_engine
    from pipelines.warehouse.migrations import upgrade

    account = AccountConfig.model_validate(
        {
            "name": ACCOUNT,
            "base_url": os.environ["BENCH_BASE_URL"],
            # The benchmark measures throughput, not the budget guard: a package that fits.
            "package": "enterprise",
            "credentials": SINGLE_ACCOUNT_VARIABLES,
        }
    )
    settings = _overridden(load_sync_settings(), dict(os.environ))
    engine = make_engine(os.environ["BENCH_DATABASE_URL"])
    upgrade(engine)  # schema setup is not part of the measured sync
    profile_to = os.environ.get("BENCH_PROFILE")
    profiler = None
    if profile_to:
        import cProfile

        profiler = cProfile.Profile()
        profiler.enable()
    cpu = CpuMeter(os.environ["BENCH_DATABASE_URL"], os.environ.get("BENCH_SIMULATOR_PID"))
    started = time.perf_counter()
    report = run_sync(
        engine, SyncRequest(account, full=True), settings=settings, environ=os.environ
    )
    seconds = time.perf_counter() - started
    cpu_seconds = cpu.since_start()
    if profiler is not None:
        import pstats

        profiler.disable()
        with open(profile_to, "w", encoding="utf-8") as out:
            stats = pstats.Stats(profiler, stream=out).strip_dirs()
            stats.sort_stats("cumulative").print_stats(30)
            stats.sort_stats("tottime").print_stats(30)
    engine.dispose()
    figures = {
        "seconds": seconds,
        "ok": report.ok,
        "calls_reported": report.calls,
        "retries": report.retries,
        "inserted": sum(r.counts.inserted for r in report.resources),
        "errors": [r.error for r in report.resources if r.error],
        "resources": {
            r.resource: {"seconds": round(r.seconds, 3), "calls": r.calls, "scopes": r.scopes_total}
            for r in report.resources
        },
        "page_concurrency": settings.page_concurrency,
        "scope_concurrency": settings.scope_concurrency,
        "peak_rss_mb_self": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "cpu_s": cpu_seconds,
    }
    print(json.dumps(figures))


if __name__ == "__main__":
    product_child()
