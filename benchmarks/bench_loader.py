"""Loader throughput and memory: stage + apply 100k and 1M synthetic kohteet-like rows.

For each size, three scans of one account go through `ScopeLoad` exactly as a sync does
(pages of 250 COPYed as they "arrive", then one apply, one transaction):

  initial   every row new (insert + history)
  rescan    the same rows again (all unchanged: the nightly full-scan case)
  changed   1% of rows changed, 0.1% gone (missing() lists them, apply deletes them)

Prints rows/s for staging (COPY incl. JSON encoding and hashing) and for apply, and the
process's peak RSS, which must stay flat as the row count grows (nothing is held in Python).

Usage:
    .venv/bin/python benchmarks/bench_loader.py [--sizes 100000 1000000] [--url URL]

The database: --url, else $TAMPUURI_DATABASE_URL, else the embedded server. A scratch
database is created for the run and dropped afterwards.
"""

from __future__ import annotations

import argparse
import platform
import random
import resource
import time
import uuid
from collections.abc import Iterator
from typing import Any

import psycopg
from psycopg import sql
from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url

from pipelines.warehouse.engine import EMBEDDED, database_url, make_engine, to_libpq_url
from pipelines.warehouse.loader import LoadCounts, ScopeLoad
from pipelines.warehouse.migrations import upgrade

PAGE = 250
ACCOUNT = "bench"
METANAMES = ("huoneisto", "rakennus", "porras", "autopaikka", "varasto")


def peak_rss_mb() -> float:
    """Peak resident set size of this process so far (Linux reports KiB, macOS bytes)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if platform.system() == "Darwin" else peak / 1024


def item(i: int, version: int = 0) -> dict[str, Any]:
    rnd = random.Random(i)
    return {
        "Id": 1_000_000 + i,
        "ParentId": 1_000_000 + i // 40,
        "KustannuspaikkaId": 100 + i // 400,
        "Metaname": METANAMES[i % len(METANAMES)],
        "Nimi": f"Asunto {chr(65 + i % 6)} {i % 97}",
        "Tunnus": f"{chr(65 + i % 6)} {i % 97}",
        "Huoneistoala": f"{rnd.randint(18, 160)},{rnd.randint(0, 9)}",
        "HuoneistotyyppiId": rnd.randint(1, 8),
        "Lisätiedot": "Parveke länteen; sauna" if i % 3 == 0 else None,
        "Muokattu": f"2025-0{1 + version}-{1 + i % 28:02d}T08:{i % 60:02d}:00.1234567+02:00",
    }


def pages(n: int, *, changed_every: int = 0, gone_every: int = 0) -> Iterator[list[dict]]:
    page: list[dict[str, Any]] = []
    for i in range(n):
        if gone_every and i % gone_every == 0:
            continue
        page.append(item(i, version=1 if changed_every and i % changed_every == 0 else 0))
        if len(page) == PAGE:
            yield page
            page = []
    if page:
        yield page


def scan(engine: Engine, label: str, n: int, **kwargs: int) -> None:
    staged = 0
    stage_s = 0.0
    with engine.begin() as conn:
        load = ScopeLoad(conn, "kohteet", account=ACCOUNT, run_id=label)
        for page in pages(n, **kwargs):
            started = time.perf_counter()
            staged += load.stage(page)
            stage_s += time.perf_counter() - started
        started = time.perf_counter()
        missing = load.missing()
        missing_s = time.perf_counter() - started
        started = time.perf_counter()
        counts: LoadCounts = load.apply(deleted_ids=[m.id for m in missing])
        apply_s = time.perf_counter() - started
        started = time.perf_counter()
    commit_s = time.perf_counter() - started
    total = stage_s + missing_s + apply_s + commit_s
    print(
        f"  {label:<8} staged {staged:>9,}"
        f"  stage {stage_s:6.1f}s ({staged / stage_s:>9,.0f} rows/s)"
        f"  missing {missing_s:5.1f}s  apply {apply_s:6.1f}s ({staged / apply_s:>9,.0f} rows/s)"
        f"  total {staged / total:>9,.0f} rows/s  peak RSS {peak_rss_mb():6.0f} MB"
    )
    print(
        f"           counts: inserted {counts.inserted:,} updated {counts.updated:,}"
        f" unchanged {counts.unchanged:,} deleted {counts.deleted:,} stale {counts.stale:,}"
    )


def run(url: str, sizes: list[int]) -> None:
    name = f"tsync_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(to_libpq_url(url), autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    scratch = make_url(url).set(database=name).render_as_string(hide_password=False)
    try:
        print(f"python {platform.python_version()}, peak RSS at start {peak_rss_mb():.0f} MB")
        for n in sizes:
            engine = make_engine(scratch, pool_size=1)
            upgrade(engine)
            with engine.begin() as conn:
                conn.execute(text("TRUNCATE tampuuri.kohteet, tampuuri.kohteet_history"))
                version = conn.execute(text("SHOW server_version")).scalar()
            print(f"{n:,} rows (PostgreSQL {version}, pages of {PAGE}):")
            scan(engine, "initial", n)
            scan(engine, "rescan", n)
            scan(engine, "changed", n, changed_every=100, gone_every=1000)
            engine.dispose()
    finally:
        with psycopg.connect(to_libpq_url(url), autocommit=True) as admin:
            admin.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--url", default=None)
    args = parser.parse_args()
    run(args.url or database_url(default=EMBEDDED), args.sizes)


if __name__ == "__main__":
    main()
