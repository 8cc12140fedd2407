"""What the write-ahead call ledger costs per call, at 0 ms and 50 ms API latency.

Against the simulator over uvicorn on a loopback port and a scratch PostgreSQL database:
one client in a child process (so that the simulator's work does not share its GIL, as
the real API would not; concurrency 4, as config/sync.yaml's sync) makes `--calls` small list calls
(`kustannuspaikat/selaa`, Limit 1) with no ledger and with the write-ahead ledger
(`CallLedger(LedgerSink(engine))`), interleaved for `--rounds` rounds so that CPU
contention hits both alike. Reported per latency: calls/s and wall ms per call of each
(median of the rounds), the ledger's overhead per call, and the database writes the
ledger made (admission batches, answer batches) for the calls.

Usage:
    .venv/bin/python benchmarks/bench_ledger.py [--calls 400] [--rounds 5] [--url URL]
        [--no-write]

Bounded: every loop has a count; loopback only.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bench_faults import ACCOUNT, drop_database, scratch_database
from pydantic import SecretStr
from results_md import write_section

from pipelines.settings import Credentials
from pipelines.simulator import FaultConfig, Simulator, SimulatorConfig
from pipelines.simulator.server import serve_in_thread
from pipelines.tampuuri.catalogue import load_catalogue
from pipelines.tampuuri.client import TampuuriClient
from pipelines.tampuuri.ledger import CallLedger
from pipelines.warehouse.engine import EMBEDDED, database_url, make_engine
from pipelines.warehouse.ledger_sink import LedgerSink
from pipelines.warehouse.migrations import upgrade

SECTION = "## Ledger overhead per call"
CONCURRENCY = 4
MODES = ("no ledger", "write-ahead ledger")


class CountingSink(LedgerSink):
    """LedgerSink that counts its writes (admission and answer statements)."""

    admits = 0
    settles = 0

    def admit(self, records: Any) -> list[int]:
        self.admits += 1
        return super().admit(records)

    def settle(self, answers: Any, retracted: Any = ()) -> None:
        self.settles += 1
        super().settle(answers, retracted)


async def calls(client: TampuuriClient, count: int) -> float:
    """Seconds for `count` calls, CONCURRENCY at a time."""
    route = load_catalogue().resources["kustannuspaikat"].list
    assert route is not None
    queue = iter(range(count))

    async def worker() -> None:
        for _ in queue:
            await client.call(route, params={"Offset": 0, "Limit": 1})

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
    return time.perf_counter() - started


def run_mode(mode: str, base: str, engine: Any, credentials: Credentials, count: int) -> dict:
    sink = CountingSink(engine) if mode != "no ledger" else None
    ledger = CallLedger(sink) if sink is not None else None

    async def go() -> float:
        client = TampuuriClient(
            ACCOUNT,
            base + "/v10/api/",
            credentials,
            ledger=ledger,
            trigger="bench",
            run_id=f"bench-{mode}",
            max_concurrency=CONCURRENCY,
        )
        async with client:
            await client.call(load_catalogue().resources["kustannuspaikat"].list)  # warm
            return await calls(client, count)

    seconds = asyncio.run(go())
    if ledger is not None:
        ledger.flush()
    return {
        "seconds": seconds,
        "admits": sink.admits if sink else 0,
        "settles": sink.settles if sink else 0,
    }


def child(args: argparse.Namespace) -> int:
    """Run one mode in this process and print its result as JSON."""
    mode, count, base, url = args.child
    sim_creds = json.loads(sys.stdin.read())
    credentials = Credentials(
        api_key=SecretStr(sim_creds["api_key"]),
        customer_name=sim_creds["customer_name"],
        account_name=sim_creds["account_name"],
        username=sim_creds["username"],
        password=SecretStr(sim_creds["password"]),
    )
    engine = make_engine(url, pool_size=1)
    try:
        print(json.dumps(run_mode(mode, base, engine, credentials, int(count))))
    finally:
        engine.dispose()
    return 0


def in_child(mode: str, count: int, base: str, url: str, creds: dict[str, str]) -> dict:
    out = subprocess.run(
        [sys.executable, str(Path(__file__)), "--child", mode, str(count), base, url],
        input=json.dumps(creds),
        capture_output=True,
        text=True,
        check=True,
        timeout=600,
    )
    return json.loads(out.stdout.splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--child", nargs=4, help=argparse.SUPPRESS)
    parser.add_argument("--calls", type=int, default=400)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--url", default=None)
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args()
    if args.child:
        return child(args)
    server_url = args.url or database_url(default=EMBEDDED)
    url = scratch_database(server_url)
    engine = make_engine(url, pool_size=2)
    upgrade(engine)
    sim = Simulator(SimulatorConfig(seed=3, scale=300, accounts=(ACCOUNT,)))
    c = sim.credentials(ACCOUNT)
    creds = {
        k: getattr(c, k)
        for k in ("api_key", "customer_name", "account_name", "username", "password")
    }
    results: dict[int, dict[str, list[dict]]] = {}
    try:
        with serve_in_thread(sim) as base:
            for latency in (0, 50):
                sim.faults.configure(FaultConfig(latency_ms=latency))
                count = args.calls if latency == 0 else max(40, args.calls // 4)
                per = results.setdefault(latency, {m: [] for m in MODES})
                for _ in range(args.rounds):
                    for mode in MODES:
                        per[mode].append(in_child(mode, count, base, url, creds))
                per["count"] = count  # type: ignore[assignment]
    finally:
        engine.dispose()
        drop_database(server_url, url)
    lines = [
        f"`benchmarks/bench_ledger.py`, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())},"
        f" concurrency {CONCURRENCY}, {args.rounds} interleaved rounds, medians;"
        " simulator over uvicorn, PostgreSQL on loopback, CPU shared with other work.",
        "",
        "```",
    ]
    for latency, per in results.items():
        count = per.pop("count")  # type: ignore[call-overload]
        ms = {m: statistics.median(r["seconds"] for r in per[m]) * 1000 / count for m in MODES}
        wa = per["write-ahead ledger"][-1]
        lines.append(
            f"latency {latency:>2} ms, {count} calls: "
            + ", ".join(f"{m} {1000 / ms[m]:.0f} calls/s ({ms[m]:.2f} ms/call)" for m in MODES)
            + f"; overhead {ms['write-ahead ledger'] - ms['no ledger']:+.2f} ms/call"
            f" ({(ms['no ledger'] / ms['write-ahead ledger'] - 1) * 100:+.1f} % throughput);"
            f" ledger writes {wa['admits']} admissions + {wa['settles']} answer batches"
            f" for {count + 1} calls"
        )
    lines.append("```")
    body = "\n".join(lines)
    print(body)
    if not args.no_write:
        write_section(SECTION, body)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
