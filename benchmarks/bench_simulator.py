"""Simulator speed: generation time at 1,000,000 rows and rows/s served as 250-row pages.

The simulator must never be what a sync benchmark measures, so one process must serve at
least 100,000 rows/s. Run: `.venv/bin/python benchmarks/bench_simulator.py [--scale N]`.
Prints the figures and writes them to benchmarks/results/simulator.txt.
"""

from __future__ import annotations

import argparse
import asyncio
import platform
import resource
import time
from pathlib import Path

import httpx
import orjson

from pipelines.simulator import Simulator, SimulatorConfig
from pipelines.simulator.server import serve_in_thread

RESULTS = Path(__file__).resolve().parent / "results" / "simulator.txt"
ROUTES = (
    ("GET", "osapuolet/yhteydet/selaa"),
    ("GET", "ilmoitukset/selaa"),
    ("GET", "kustannuspaikat/selaa"),
)


async def _scan_all(client: httpx.AsyncClient, path: str, max_rows: int) -> int:
    rows, offset, total = 0, 0, 1
    while offset < min(total, max_rows):
        r = await client.get(f"/v10/api/{path}", params={"Offset": offset, "Limit": 250})
        page = orjson.loads(r.content)
        total = page["Total"]
        rows += len(page["Items"])
        offset += 250
    return rows


async def _in_process(sim: Simulator, max_rows: int) -> tuple[int, float]:
    headers = sim.credentials("bench").headers()
    transport = httpx.ASGITransport(app=sim.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://sim", headers=headers) as c:
        started = time.perf_counter()
        rows = sum([await _scan_all(c, path, max_rows) for _, path in ROUTES])
        return rows, time.perf_counter() - started


def _over_socket(sim: Simulator, max_rows: int) -> tuple[int, float]:
    headers = sim.credentials("bench").headers()
    with serve_in_thread(sim) as base_url, httpx.Client(base_url=base_url, headers=headers) as c:
        started = time.perf_counter()
        rows = 0
        for _, path in ROUTES:
            offset, total = 0, 1
            while offset < min(total, max_rows):
                r = c.get(f"/v10/api/{path}", params={"Offset": offset, "Limit": 250})
                page = orjson.loads(r.content)
                total = page["Total"]
                rows += len(page["Items"])
                offset += 250
        return rows, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scale", type=int, default=1_000_000)
    parser.add_argument("--max-rows", type=int, default=200_000, help="rows read per route")
    args = parser.parse_args()

    started = time.perf_counter()
    sim = Simulator(SimulatorConfig(seed=1, scale=args.scale, accounts=("bench",)))
    generated_s = time.perf_counter() - started
    store = sim.store("bench")
    total_rows = sum(len(t.ids) for t in store.tables.values())
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    rows, seconds = asyncio.run(_in_process(sim, args.max_rows))
    in_process = rows / seconds
    socket_rows, socket_s = _over_socket(sim, args.max_rows // 4)
    over_socket = socket_rows / socket_s

    lines = [
        f"simulator benchmark ({time.strftime('%Y-%m-%d')}, Python {platform.python_version()}, "
        f"{platform.machine()})",
        f"scale={args.scale} rows generated={total_rows} in {generated_s:.1f} s, "
        f"max RSS {rss_mb:.0f} MB",
        f"in-process (httpx.ASGITransport): {rows} rows in {seconds:.2f} s "
        f"= {in_process:,.0f} rows/s",
        f"over a socket (uvicorn, one process): {socket_rows} rows in {socket_s:.2f} s "
        f"= {over_socket:,.0f} rows/s",
        f"requirement >= 100,000 rows/s: {'met' if in_process >= 100_000 else 'NOT MET'}",
    ]
    text = "\n".join(lines)
    print(text)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
