"""Load benchmark of the webhook receiver: throughput and latency, and no loss or doubling.

The receiver runs as its own process under uvicorn on a loopback port (as in production),
against a scratch database on the warehouse server (TEST_DATABASE_URL, else
TAMPUURI_DATABASE_URL, else the embedded server). Several concurrent httpx clients post
bundles for a bounded time: mostly new notifications, some redeliveries of an earlier
bundle (Attempts + 1, its notifications' keys in another order: dedup is on meaning) and a
few invalid notifications (a bad id, or a NUL character in ReferenceData), which go to the
dead letters while their bundle is stored. Afterwards every distinct valid notification
must be in the inbox exactly once, and every invalid one in the dead letters. The receiver
runs with the production server configuration (pipelines/webhooks/server.py).

    .venv/bin/python benchmarks/bench_receiver.py [--seconds 20] [--clients 8] [--bundle 20]

Results are printed and written to benchmarks/results/receiver.txt.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import random
import statistics
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import httpx
import psycopg
from sqlalchemy import text
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from results_md import free_port  # noqa: E402

from pipelines.warehouse.engine import (  # noqa: E402
    EMBEDDED,
    database_url,
    make_engine,
    to_libpq_url,
    to_sqlalchemy_url,
)
from pipelines.warehouse.migrations import upgrade  # noqa: E402
from pipelines.webhooks.notification import dedup_key  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results" / "receiver.txt"
SECRET = "bench-" + uuid.uuid4().hex
PATH = "/tampuuri/webhook"
ACTIONS = ("KohderekisteriTietoMuokkaa", "IlmoitusTilamuutos", "OsapuoliMuokkaa", "IlmoitusUusi")


@dataclass
class Tally:
    sent_keys: set[str] = field(default_factory=set)
    invalid_sent: int = 0
    latencies_ms: list[float] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)
    redeliveries: int = 0
    notifications_posted: int = 0


def _server_url() -> str:
    explicit = os.environ.get("TEST_DATABASE_URL") or os.environ.get("TAMPUURI_DATABASE_URL")
    return to_sqlalchemy_url(explicit) if explicit else database_url(default=EMBEDDED)


def _admin(url: str, statement: str) -> None:
    with psycopg.connect(to_libpq_url(url), autocommit=True) as conn:
        conn.execute(statement)  # type: ignore[arg-type]


def _notification(serial: int, rng: random.Random) -> dict[str, object]:
    ticks = datetime.now(UTC).isoformat()
    return {
        "Action": rng.choice(ACTIONS),
        "Account": f"bench-{serial % 3}",
        "ReferenceId": serial,
        "ReferenceSecondaryId": rng.randint(1, 50),
        "ReferenceData": None,
        "ReferenceJson": None,
        "Timestamp": ticks,
    }


async def _client(
    index: int, port: int, until: float, bundle_size: int, tally: Tally, serials: list[int]
) -> None:
    rng = random.Random(index)
    earlier: list[list[dict[str, object]]] = []
    url = f"http://127.0.0.1:{port}{PATH}"
    async with httpx.AsyncClient(headers={"X-Webhook-Secret": SECRET}, timeout=30) as client:
        while time.monotonic() < until:
            if earlier and rng.random() < 0.25:
                items = [dict(reversed(item.items())) for item in rng.choice(earlier)]
                attempts = rng.randint(2, 5)
                tally.redeliveries += 1
            else:
                items = []
                for _ in range(bundle_size):
                    serials[0] += 1
                    item = _notification(serials[0], rng)
                    roll = rng.random()
                    if roll < 0.02:
                        item["ReferenceId"] = "not-an-id"
                        tally.invalid_sent += 1
                    elif roll < 0.03:
                        item["ReferenceData"] = "Rappu A\u0000"
                        tally.invalid_sent += 1
                    else:
                        tally.sent_keys.add(dedup_key(item))
                    items.append(item)
                earlier.append(items)
                attempts = 1
            started = time.perf_counter()
            response = await client.post(url, json={"Attempts": attempts, "Notifications": items})
            tally.latencies_ms.append((time.perf_counter() - started) * 1000)
            tally.statuses[response.status_code] = tally.statuses.get(response.status_code, 0) + 1
            tally.notifications_posted += len(items)


def _serve(port: int) -> None:
    """Child process: the receiver under uvicorn (URL and secret from the environment)."""
    import uvicorn

    from pipelines.webhooks.receiver import create_receiver_app
    from pipelines.webhooks.server import server_config
    from pipelines.webhooks.settings import ReceiverSettings

    engine = make_engine(os.environ["TAMPUURI_DATABASE_URL"], pool_size=8)
    settings = ReceiverSettings()
    config = server_config(
        create_receiver_app(engine, settings), settings, host="127.0.0.1", port=port
    )
    config.log_level = "warning"
    uvicorn.Server(config).run()


def _wait_healthy(port: int, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit("receiver process exited early")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise SystemExit("receiver did not become healthy")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--bundle", type=int, default=20, help="notifications per new bundle")
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        _serve(args.serve)
        return 0

    server_url = _server_url()
    name = f"bench_receiver_{uuid.uuid4().hex[:8]}"
    _admin(server_url, f'CREATE DATABASE "{name}"')
    url = make_url(server_url).set(database=name).render_as_string(hide_password=False)
    engine = make_engine(url, pool_size=2)
    proc: subprocess.Popen[bytes] | None = None
    try:
        upgrade(engine)
        port = free_port()
        env = {**os.environ, "TAMPUURI_DATABASE_URL": url, "TAMPUURI_WEBHOOK_SECRET": SECRET}
        proc = subprocess.Popen([sys.executable, __file__, "--serve", str(port)], env=env)
        _wait_healthy(port, proc)

        tally, serials = Tally(), [0]
        started = time.monotonic()
        until = started + args.seconds

        async def load() -> None:
            await asyncio.gather(
                *(_client(i, port, until, args.bundle, tally, serials) for i in range(args.clients))
            )

        asyncio.run(load())
        elapsed = time.monotonic() - started

        with engine.connect() as conn:
            stored = set(conn.execute(text("SELECT dedup_key FROM ops.webhook_inbox")).scalars())
            rows = conn.execute(text("SELECT count(*) FROM ops.webhook_inbox")).scalar_one()
            letters = conn.execute(
                text("SELECT count(*) FROM ops.webhook_dead_letters")
            ).scalar_one()
        requests = len(tally.latencies_ms)
        quantiles = statistics.quantiles(tally.latencies_ms, n=100)
        expected_letters = tally.invalid_sent  # redelivered invalid ones are lettered again
        checks = {
            "all answers 200": set(tally.statuses) == {200},
            "every distinct valid notification stored": stored == tally.sent_keys,
            "each exactly once": rows == len(tally.sent_keys),
            "invalid notifications dead-lettered": letters >= expected_letters,
        }
        report = [
            f"bench_receiver  {datetime.now(UTC):%Y-%m-%d %H:%M UTC}  "
            f"python {platform.python_version()}  {platform.machine()}  cpus {os.cpu_count()}",
            f"duration {elapsed:.1f} s, {args.clients} concurrent clients, "
            f"{args.bundle} notifications per new bundle, 25% redeliveries (keys reordered), "
            "3% invalid (2% a bad id, 1% a NUL in ReferenceData)",
            f"requests {requests}  ({requests / elapsed:.0f} req/s, "
            f"{tally.notifications_posted / elapsed:.0f} notifications/s)",
            f"latency p50 {quantiles[49]:.1f} ms  p99 {quantiles[98]:.1f} ms  "
            f"max {max(tally.latencies_ms):.1f} ms",
            f"statuses {tally.statuses}  redelivered bundles {tally.redeliveries}",
            f"inbox rows {rows} = distinct valid notifications {len(tally.sent_keys)}; "
            f"dead letters {letters} (invalid sent in new bundles {tally.invalid_sent})",
            *(f"check {'PASS' if ok else 'FAIL'}: {label}" for label, ok in checks.items()),
        ]
        text_report = "\n".join(report) + "\n"
        print(text_report, end="")
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        RESULTS.write_text(text_report, encoding="utf-8")
        return 0 if all(checks.values()) else 1
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(timeout=10)
        engine.dispose()
        _admin(server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    raise SystemExit(main())
