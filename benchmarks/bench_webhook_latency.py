"""Webhook latency under `dagster dev`: a change in the simulator -> visible in the warehouse.

Goal (issue 5): p95 <= 10 s from the change request to warehouse visibility.

The whole stack runs as subprocesses on free loopback ports, into a fresh database on the
warehouse server (`--database-url`, else TAMPUURI_DATABASE_URL, else the embedded server):
the simulator (`tampuuri-sync simulator serve`, its webhook sender looks for due bundles
every 0.5 s), the receiver (`tampuuri-sync webhooks serve`), and `dagster dev -m
pipelines.definitions` with DAGSTER_HOME in a temp dir holding the local instance of
`tampuuri-sync ui` (QueuedRunCoordinator, SQLite). After a full sync (`tampuuri-sync sync
--full`) and the sensor's first tick, N changes are made `--spacing` seconds apart, rotating
notice status changes, object renames and party renames, each on its own row. Each row is
polled (every 0.1 s) until the warehouse shows the new value.

Where the time goes, per change, from the inbox (received_at, processed_at) and Dagster's
run records and event log of the run that processed the change's event:

    deliver  change request -> inbox row committed (sender interval, HTTP, commit)
    sensor   inbox -> run created (coalescing window + waiting for a sensor tick)
    queue    run created -> run starting (QueuedRunCoordinator dequeue interval)
    worker   run starting -> run started (run worker process: interpreter, imports, load)
    step     run started -> step started (multiprocess executor: a second process)
    op       step started -> events marked done (resources, API calls, upsert)
    poll     events marked done -> seen by the poller (poll interval)

Variants (experiments without editing pipelines/): `--window-s` / `--sensor-interval`
build the product's sensor with another coalescing window / minimum_interval_seconds,
`--in-process` runs the code location's jobs with
the in-process executor (both through a generated code location module in the temp dir
that loads the product's definitions and swaps only those), `--dequeue-interval` sets
the run coordinator's dequeue_interval_seconds in the temp dagster.yaml, `--code-root`
runs Dagster on a patched copy of the tree (pipelines/, config/, sql/).

    .venv/bin/python benchmarks/bench_webhook_latency.py [--changes 30] [--spacing 3]
    .venv/bin/python benchmarks/bench_webhook_latency.py --window-s 0 --in-process \
        --dequeue-interval 1 --label tuned
    .venv/bin/python benchmarks/bench_webhook_latency.py --render-only

Each run records its summary under its label in results/webhook_latency.json (merged
across runs) and rewrites results/webhook_latency.txt and the "Webhook latency under
dagster dev" section of RESULTS.md from every recorded label, followed by the analysis
kept in results/webhook_latency.md.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import os
import platform
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import psycopg
import yaml
from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from results_md import free_port, write_section  # noqa: E402

from pipelines.dagster_dev import LOCAL_INSTANCE  # noqa: E402
from pipelines.warehouse.engine import (  # noqa: E402
    embedded_database_url,
    make_engine,
    to_libpq_url,
    to_sqlalchemy_url,
)
from pipelines.warehouse.migrations import upgrade  # noqa: E402

BIN = Path(sys.executable).parent
RESULTS_DIR = ROOT / "benchmarks" / "results"
RESULTS_JSON = RESULTS_DIR / "webhook_latency.json"  # {label: summary}, merged across runs
RESULTS_TXT = RESULTS_DIR / "webhook_latency.txt"
RESULTS_NOTES = RESULTS_DIR / "webhook_latency.md"  # analysis appended to the section
RESULTS_MD = ROOT / "benchmarks" / "RESULTS.md"
SECTION = "## Webhook latency under dagster dev"
ACCOUNT = "demo-a"
GOAL_P95_S = 10.0
POLL_S = 0.1
SENSOR = "webhook_inbox_sensor"
STAGES = ("deliver", "sensor", "queue", "worker", "step", "op", "poll")
# Made-up simulator credentials (the simulator takes them from TAMPUURI_* variables; the
# product reads them through the accounts file under other names). Never printed.
SIM_CREDENTIALS = {
    "api_key": "7d0c3b1e-5b7a-4c39-9d1e-bench0000001",
    "customer_name": "Bench Isannointi Oy",
    "account_name": ACCOUNT,
    "username": "api-bench",
    "password": "Bench-" + uuid.uuid4().hex,
}
WEBHOOK_SECRET = "bench-" + uuid.uuid4().hex


@dataclass(frozen=True)
class Kind:
    """One kind of change: the simulator resource, the warehouse table, the event type."""

    name: str
    resource: str
    table: str  # a code constant: the only identifier put into SQL
    action: str
    field: str


KINDS = (
    Kind("notice status", "ilmoitukset", "tampuuri.ilmoitukset", "IlmoitusTilamuutos", "TilaId"),
    Kind("object rename", "kohteet", "tampuuri.kohteet", "KohderekisteriTietoMuokkaa", "Nimi"),
    Kind("party rename", "osapuolet", "tampuuri.osapuolet", "OsapuoliMuokkaa", "Nimi"),
)


@dataclass
class Change:
    index: int
    kind: Kind
    row_id: int
    value: str
    sent_at: float = 0.0
    seen_at: float | None = None
    stages: dict[str, float] = field(default_factory=dict)
    run_id: str | None = None

    @property
    def latency(self) -> float | None:
        return None if self.seen_at is None else self.seen_at - self.sent_at


# ---- processes -------------------------------------------------------------------------
class Processes:
    """Subprocesses in their own process groups, stopped (group-wide) at exit."""

    def __init__(self, log_dir: Path) -> None:
        self.log_dir = log_dir
        self.started: list[tuple[str, subprocess.Popen[bytes]]] = []

    def start(
        self, name: str, command: list[str], env: dict[str, str], cwd: Path = ROOT
    ) -> subprocess.Popen[bytes]:
        log = (self.log_dir / f"{name}.log").open("wb")
        proc = subprocess.Popen(
            command, cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
        self.started.append((name, proc))
        return proc

    def tail(self, lines: int = 25) -> str:
        out = []
        for name, _ in self.started:
            content = (self.log_dir / f"{name}.log").read_text(errors="replace").splitlines()
            out.append(f"--- {name} (last {lines} lines)\n" + "\n".join(content[-lines:]))
        return "\n".join(out)

    def stop_all(self) -> None:
        # dagster dev stops its webserver, daemon and code server on SIGINT; the group
        # kill afterwards catches run workers and anything that lingers.
        for _, proc in reversed(self.started):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGINT)
        deadline = time.monotonic() + 30
        for _, proc in reversed(self.started):
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=5)


def _wait_http(url: str, proc: subprocess.Popen[bytes], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited early (code {proc.returncode})")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(url, timeout=2).status_code == 200:
                return
        time.sleep(0.2)
    raise RuntimeError(f"{what} not ready within {timeout_s:.0f} s")


@contextlib.contextmanager
def scratch_database(server_url: str) -> Iterator[str]:
    """A fresh database on the server, dropped afterwards."""
    name = f"bench_latency_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(to_libpq_url(server_url), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')  # name from code, no bound parameter here
    try:
        yield make_url(server_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(to_libpq_url(server_url), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


VARIANT_MODULE = '''\
"""Generated by bench_webhook_latency.py: the product's definitions with one variant."""
import dagster as dg
from pipelines import definitions as product
from pipelines.sensors.webhook_inbox import WEBHOOK_SENSOR, build_webhook_inbox_sensor
WINDOW_S = {window_s!r}
INTERVAL_S = {interval_s!r}
IN_PROCESS = {in_process!r}


@dg.definitions
def defs() -> dg.Definitions:
    base = product.defs.load_fn()
    sensors = list(base.sensors or [])
    if WINDOW_S is not None or INTERVAL_S is not None:
        options = {{"window_s": WINDOW_S, "interval_s": INTERVAL_S}}
        sensors = [s for s in sensors if s.name != WEBHOOK_SENSOR]
        sensors.append(
            build_webhook_inbox_sensor(**{{k: v for k, v in options.items() if v is not None}})
        )
    return dg.Definitions(
        assets=base.assets, asset_checks=base.asset_checks, jobs=base.jobs,
        schedules=base.schedules, sensors=sensors, resources=base.resources,
        executor=dg.in_process_executor if IN_PROCESS else None,
    )
'''


def dagster_home(tmp: Path, dequeue_interval: int | None) -> Path:
    """DAGSTER_HOME with the local instance of `tampuuri-sync ui` (optionally varied)."""
    home = tmp / "dagster_home"
    home.mkdir()
    config = yaml.safe_load(LOCAL_INSTANCE)
    if dequeue_interval is not None:
        config["run_coordinator"]["config"]["dequeue_interval_seconds"] = dequeue_interval
    (home / "dagster.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
    return home


def accounts_file(tmp: Path, api_url: str) -> tuple[Path, dict[str, str]]:
    """One Enterprise account on the simulator (the budget guard admits every run)."""
    variables = {key: f"BENCH_DEMO_A_{key.upper()}" for key in SIM_CREDENTIALS}
    account = {
        "name": ACCOUNT,
        "base_url": f"{api_url}/v10/api/",
        "package": "enterprise",
        "credentials": variables,
    }
    path = tmp / "accounts.yaml"
    path.write_text(yaml.safe_dump({"accounts": [account]}), encoding="utf-8")
    env = {var: SIM_CREDENTIALS[key] for key, var in variables.items()}
    return path, {**env, "TAMPUURI_ACCOUNTS_FILE": str(path)}


# ---- Dagster GraphQL -------------------------------------------------------------------
SENSOR_QUERY = """
query ($sel: SensorSelector!) { sensorOrError(sensorSelector: $sel) {
  __typename ... on Sensor { minIntervalSeconds sensorState { status
    ticks(limit: 1000) { timestamp status runIds } } } } }
"""
RUN_QUERY = """
query ($id: ID!) { runOrError(runId: $id) { __typename ... on Run {
  status creationTime startTime endTime
  eventConnection(afterCursor: null) { events { __typename
    ... on MessageEvent { timestamp } ... on StepEvent { stepKey } } } } } }
"""


def graphql(port: int, query: str, variables: dict[str, Any]) -> dict[str, Any]:
    response = httpx.post(
        f"http://127.0.0.1:{port}/graphql",
        json={"query": query, "variables": variables},
        timeout=30,
    )
    response.raise_for_status()
    body = response.json()
    if body.get("errors"):
        raise RuntimeError(f"graphql: {body['errors'][0].get('message')}")
    return dict(body["data"])


def sensor_ticks(port: int, location: str) -> list[dict[str, Any]]:
    sel = {"repositoryLocationName": location, "repositoryName": "__repository__",
           "sensorName": SENSOR}  # fmt: skip
    data = graphql(port, SENSOR_QUERY, {"sel": sel})["sensorOrError"]
    if data["__typename"] != "Sensor":
        return []
    return list(data["sensorState"]["ticks"])


def run_timeline(port: int, run_id: str) -> dict[str, Any]:
    """When the run was created, and the first time of each event type in its event log."""
    run = graphql(port, RUN_QUERY, {"id": run_id})["runOrError"]
    out: dict[str, Any] = {"created": float(run["creationTime"]), "status": run["status"]}
    for event in run["eventConnection"]["events"]:
        name = event["__typename"]
        if name not in out and event.get("timestamp"):
            out[name] = int(event["timestamp"]) / 1000
    return out


# ---- the measurement -------------------------------------------------------------------
def pick_changes(engine: Engine, count: int) -> list[Change]:
    """Distinct rows per kind from the synced warehouse, with a new value for each."""
    per_kind = -(-count // len(KINDS))
    rows: dict[str, list[tuple[int, str | None]]] = {}
    with engine.connect() as conn:
        for kind in KINDS:
            rows[kind.name] = [
                (int(r[0]), r[1])
                for r in conn.execute(
                    text(
                        f"SELECT id, data->>:field FROM {kind.table}"  # table: code constant
                        " WHERE account = :account AND deleted_at IS NULL ORDER BY id LIMIT :n"
                    ),
                    {"field": kind.field, "account": ACCOUNT, "n": per_kind},
                )
            ]
    changes = []
    for index in range(count):
        kind = KINDS[index % len(KINDS)]
        row_id, current = rows[kind.name][index // len(KINDS)]
        if kind.field == "TilaId":
            value = "3" if current != "3" else "5"  # a real status move
        else:
            value = f"Bench {index:03d} {uuid.uuid4().hex[:6]}"
        changes.append(Change(index, kind, row_id, value))
    return changes


def make_change(client: httpx.Client, change: Change) -> None:
    fields: dict[str, Any] = {change.kind.field: change.value}
    if change.kind.field == "TilaId":
        fields = {"TilaId": int(change.value)}
    change.sent_at = time.time()
    response = client.post(
        "/_sim/changes",
        json={"account": ACCOUNT, "resource": change.kind.resource, "op": "update",
              "id": change.row_id, "fields": fields},
    )  # fmt: skip
    response.raise_for_status()


def poll(engine: Engine, pending: list[Change]) -> None:
    with engine.connect() as conn:
        for change in pending:
            value = conn.execute(
                text(f"SELECT data->>:field FROM {change.kind.table}"  # code constant
                     " WHERE account = :account AND id = :id"),
                {"field": change.kind.field, "account": ACCOUNT, "id": change.row_id},
            ).scalar()  # fmt: skip
            if value == change.value:
                change.seen_at = time.time()


def measure(
    engine: Engine, sim: httpx.Client, changes: list[Change], spacing: float, timeout_s: float
) -> None:
    """Make the changes `spacing` apart while polling every outstanding one."""
    started = time.monotonic()
    issued = 0
    while True:
        now = time.monotonic()
        if issued < len(changes) and now >= started + issued * spacing:
            make_change(sim, changes[issued])
            issued += 1
        pending = [c for c in changes[:issued] if c.seen_at is None]
        if pending:
            poll(engine, pending)
        overdue = [c for c in pending if time.time() - c.sent_at > timeout_s]
        if issued == len(changes) and all(c.seen_at or c in overdue for c in changes):
            return
        time.sleep(POLL_S)


INBOX = text(
    "SELECT extract(epoch FROM received_at), extract(epoch FROM processed_at), run_id, status"
    " FROM ops.webhook_inbox WHERE account = :account AND action = :action"
    " AND reference_id = :id ORDER BY event_id LIMIT 1"
)


def attribute(engine: Engine, port: int, changes: list[Change]) -> dict[str, dict[str, Any]]:
    """Fill each change's stage durations; returns the timelines of the runs involved."""
    runs: dict[str, dict[str, Any]] = {}
    with engine.connect() as conn:
        for change in changes:
            row = conn.execute(
                INBOX, {"account": ACCOUNT, "action": change.kind.action, "id": change.row_id}
            ).first()
            if row is None or row[2] is None or change.seen_at is None:
                continue
            received, processed, run_id = float(row[0]), float(row[1]), str(row[2])
            change.run_id = run_id
            if run_id not in runs:
                runs[run_id] = run_timeline(port, run_id)
            run = runs[run_id]
            points = [
                change.sent_at,
                received,
                run["created"],
                run.get("RunStartingEvent"),
                run.get("RunStartEvent"),
                run.get("ExecutionStepStartEvent"),
                processed,
                change.seen_at,
            ]
            if any(p is None for p in points):
                continue
            times = [float(p) for p in points]
            change.stages = {
                s: b - a for s, a, b in zip(STAGES, times[:-1], times[1:], strict=True)
            }
    return runs


def quantile(values: list[float], q: float) -> float:
    """Nearest-rank quantile (no interpolation: p95 of 30 is the 29th value)."""
    ordered = sorted(values)
    rank = max(1, -(-int(q * 100) * len(ordered) // 100))
    return ordered[min(rank, len(ordered)) - 1]


# ---- report ----------------------------------------------------------------------------
def stats(values: list[float]) -> dict[str, float]:
    if not values:
        return {}
    return {
        "p50": quantile(values, 0.50),
        "p95": quantile(values, 0.95),
        "max": max(values),
        "mean": sum(values) / len(values),
    }


def summarize(
    args: argparse.Namespace,
    changes: list[Change],
    runs: dict[str, dict[str, float]],
    ticks: list[dict[str, Any]],
    min_interval_s: int | None,
) -> dict[str, Any]:
    latencies = [c.latency for c in changes if c.latency is not None]
    first = min(c.sent_at for c in changes)
    last = max((c.seen_at or c.sent_at) for c in changes)
    window = sorted(
        float(t["timestamp"]) for t in ticks if first - 10 <= float(t["timestamp"]) <= last
    )
    gaps = [b - a for a, b in itertools.pairwise(window)]
    per_run: dict[str, int] = {}
    for change in changes:
        if change.run_id:
            per_run[change.run_id] = per_run.get(change.run_id, 0) + 1
    return {
        "label": args.label,
        "date": f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        "machine": f"{os.cpu_count()} cores, {platform.machine()}, "
        f"Python {platform.python_version()}",
        "settings": {
            "changes": len(changes),
            "spacing_s": args.spacing,
            "scale": args.scale,
            "sensor_min_interval_s": min_interval_s,
            "coalescing_window_s": 5.0 if args.window_s is None else args.window_s,
            "dequeue_interval_s": 5 if args.dequeue_interval is None else args.dequeue_interval,
            "executor": "in_process" if args.in_process else "multiprocess (default)",
            "code": "patched copy" if args.code_root else "this tree",
            "simulator_sender_interval_s": 0.5,
            "poll_interval_s": POLL_S,
        },
        "latency_s": {
            **stats(latencies),
            "seen": len(latencies),
            "timed_out": len(changes) - len(latencies),
        },
        "stages_s": {s: stats([c.stages[s] for c in changes if c.stages]) for s in STAGES},
        "sensor_ticks": {"count": len(window), **{f"gap_{k}": v for k, v in stats(gaps).items()}},
        "runs": {"count": len(runs), "changes_per_run_max": max(per_run.values(), default=0)},
        "run_timelines": runs,
        "by_kind": {
            k.name: stats([c.latency for c in changes if c.kind is k and c.latency is not None])
            for k in KINDS
        },
        "per_change": [
            {
                "i": c.index,
                "kind": c.kind.name,
                "id": c.row_id,
                "latency_s": c.latency,
                "run_id": c.run_id,
                **c.stages,
            }
            for c in changes
        ],
    }


def render(summary: dict[str, Any]) -> str:
    s, lat = summary["settings"], summary["latency_s"]
    verdict = "met" if lat.get("p95", 1e9) <= GOAL_P95_S and not lat["timed_out"] else "NOT met"
    lines = [
        f"[{summary['label']}] {summary['date']}, {summary['machine']}",
        f"  {s['changes']} changes {s['spacing_s']:g} s apart (scale {s['scale']:,})",
        f"  sensor minimum_interval {s['sensor_min_interval_s']} s, coalescing window"
        f" {s['coalescing_window_s']:g} s, dequeue interval {s['dequeue_interval_s']} s,"
        f" executor {s['executor']}, code {s.get('code', 'this tree')}",
        f"  latency change -> warehouse: p50 {lat.get('p50', 0):.1f} s"
        f"  p95 {lat.get('p95', 0):.1f} s  max {lat.get('max', 0):.1f} s"
        f"  ({lat['seen']} seen, {lat['timed_out']} timed out)",
        f"  goal p95 <= {GOAL_P95_S:g} s: {verdict}",
        "  stage      p50     p95     max    mean  (seconds)",
    ]
    for stage, st in summary["stages_s"].items():
        if st:
            lines.append(
                f"  {stage:<8}{st['p50']:6.2f}  {st['p95']:6.2f}"
                f"  {st['max']:6.2f}  {st['mean']:6.2f}"
            )
    t, r = summary["sensor_ticks"], summary["runs"]
    if t.get("gap_p50") is not None:
        lines.append(
            f"  sensor ticks {t['count']}, gap p50 {t['gap_p50']:.1f} s max {t['gap_max']:.1f} s;"
            f" runs {r['count']}, at most {r['changes_per_run_max']} changes per run"
        )
    for kind, st in summary["by_kind"].items():
        if st:
            lines.append(f"  {kind:<14} p50 {st['p50']:.1f} s  p95 {st['p95']:.1f} s")
    return "\n".join(lines)


METHOD = """\
The stack as subprocesses on loopback: simulator (webhook sender every 0.5 s), receiver,
`dagster dev -m pipelines.definitions` (DAGSTER_HOME in a temp dir with the local
instance of `tampuuri-sync ui`: QueuedRunCoordinator, SQLite, default run launcher), a
fresh database on the embedded PostgreSQL, after `tampuuri-sync sync --full`. Changes
rotate notice status / object rename / party rename, each on its own row; latency runs
from the `POST /_sim/changes` request until a 0.1 s poll of the warehouse row shows the
new value. Stages: deliver (change -> inbox commit), sensor (inbox -> run created:
coalescing window + tick wait), queue (created -> starting: the coordinator's dequeue
loop), worker (starting -> started: the run worker process), step (started -> step
started: the executor), op (step started -> events done), poll (done -> seen); from
ops.webhook_inbox and Dagster's run events (GraphQL). Percentiles are nearest-rank.
Variants are made without editing pipelines/: a generated code location swapping the
sensor's window or interval and the executor, the temp dagster.yaml's
dequeue_interval_seconds, a patched copy of the tree (`--code-root`). A negative poll
stage: an earlier run's cost-centre listing already carried the change."""


def load_results() -> dict[str, dict[str, Any]]:
    if not RESULTS_JSON.exists():
        return {}
    return dict(json.loads(RESULTS_JSON.read_text(encoding="utf-8")))


def render_all(results: dict[str, dict[str, Any]]) -> str:
    """Every recorded label (product first) as the RESULTS.md section body."""
    ordered = sorted(results.values(), key=lambda s: (s["label"] != "product", s["label"]))
    blocks = "\n\n".join(render(s) for s in ordered)
    notes = RESULTS_NOTES.read_text(encoding="utf-8").strip() if RESULTS_NOTES.exists() else ""
    body = f"`benchmarks/bench_webhook_latency.py`. {METHOD}\n\n```\n{blocks}\n```\n"
    return body + (f"\n{notes}\n" if notes else "")


# ---- main ------------------------------------------------------------------------------
def run(args: argparse.Namespace, tmp: Path, procs: Processes) -> dict[str, Any]:
    explicit = args.database_url or os.environ.get("TAMPUURI_DATABASE_URL")
    server_url = to_sqlalchemy_url(explicit) if explicit else embedded_database_url()
    with scratch_database(server_url) as db_url:
        engine = make_engine(db_url, pool_size=2)
        try:
            upgrade(engine)
            return _run_stack(args, tmp, procs, engine, db_url)
        finally:
            procs.stop_all()  # before the database is dropped
            engine.dispose()


def _run_stack(
    args: argparse.Namespace, tmp: Path, procs: Processes, engine: Engine, db_url: str
) -> dict[str, Any]:
    base_env = {k: v for k, v in os.environ.items() if not k.startswith(("TAMPUURI_", "DAGSTER_"))}
    sim_port, recv_port, dagster_port = free_port(), free_port(), free_port()
    sim_env = {**base_env, **{f"TAMPUURI_{k.upper()}": v for k, v in SIM_CREDENTIALS.items()}}
    sim = procs.start("simulator", [str(BIN / "tampuuri-sync"), "simulator", "serve",
        "--host", "127.0.0.1", "--port", str(sim_port), "--scale", str(args.scale),
        "--seed", "7", "--accounts", ACCOUNT], sim_env)  # fmt: skip
    api_url = f"http://127.0.0.1:{sim_port}"
    _wait_http(f"{api_url}/_sim/faults", sim, 60, "simulator")
    _, account_env = accounts_file(tmp, api_url)
    env = {**base_env, **account_env, "TAMPUURI_DATABASE_URL": db_url}
    receiver = procs.start("receiver", [str(BIN / "tampuuri-sync"), "webhooks", "serve",
        "--host", "127.0.0.1", "--port", str(recv_port)],
        {**env, "TAMPUURI_WEBHOOK_SECRET": WEBHOOK_SECRET})  # fmt: skip
    module = "pipelines.definitions"
    if args.window_s is not None or args.sensor_interval is not None or args.in_process:
        module = "bench_latency_defs"
        (tmp / f"{module}.py").write_text(
            VARIANT_MODULE.format(
                window_s=args.window_s, interval_s=args.sensor_interval, in_process=args.in_process
            ),
            encoding="utf-8",
        )
    home = dagster_home(tmp, args.dequeue_interval)
    # --code-root: Dagster (code server, run workers) imports a patched copy of the tree.
    code_root = Path(args.code_root).resolve() if args.code_root else ROOT
    dagster_env = {**env, "DAGSTER_HOME": str(home), "PYTHONPATH": f"{tmp}:{code_root}"}
    dagster = procs.start("dagster", [sys.executable, "-m", "dagster", "dev", "-m", module,
        "-h", "127.0.0.1", "-p", str(dagster_port)], dagster_env, cwd=code_root)  # fmt: skip
    _wait_http(f"http://127.0.0.1:{recv_port}/healthz", receiver, 60, "receiver")

    started = time.monotonic()
    sync = subprocess.run([str(BIN / "tampuuri-sync"), "sync", "--full"], cwd=ROOT, env=env,
        capture_output=True, timeout=300, check=False)  # fmt: skip
    if sync.returncode != 0:
        raise RuntimeError(f"initial sync failed: {sync.stdout.decode()[-2000:]}")
    print(f"initial full sync: {time.monotonic() - started:.1f} s", flush=True)

    with httpx.Client(base_url=api_url, timeout=10) as client:
        client.post("/_sim/webhooks/listeners", json={
            "account": ACCOUNT, "url": f"http://127.0.0.1:{recv_port}/tampuuri/webhook",
            "events": None, "secret_header": {"name": "X-Webhook-Secret", "value": WEBHOOK_SECRET},
        }).raise_for_status()  # fmt: skip
        _wait_http(f"http://127.0.0.1:{dagster_port}/server_info", dagster, 240, "dagster dev")
        deadline = time.monotonic() + 120
        while not sensor_ticks(dagster_port, module):
            if time.monotonic() > deadline or dagster.poll() is not None:
                raise RuntimeError("the webhook sensor did not tick within 120 s")
            time.sleep(1)
        print(f"dagster dev up, sensor ticking: {time.monotonic() - started:.1f} s", flush=True)
        changes = pick_changes(engine, args.changes)
        measure(engine, client, changes, args.spacing, args.timeout)
    # Let the last runs write their end events before reading the timelines.
    time.sleep(3)
    runs = attribute(engine, dagster_port, changes)
    sel = {
        "repositoryLocationName": module,
        "repositoryName": "__repository__",
        "sensorName": SENSOR,
    }
    sensor = graphql(dagster_port, SENSOR_QUERY, {"sel": sel})["sensorOrError"]
    return summarize(
        args, changes, runs, sensor_ticks(dagster_port, module), sensor.get("minIntervalSeconds")
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--changes", type=int, default=30)
    parser.add_argument("--spacing", type=float, default=3.0, help="seconds between changes")
    parser.add_argument("--scale", type=int, default=2000, help="simulator rows per account")
    parser.add_argument("--timeout", type=float, default=90.0, help="seconds per change")
    parser.add_argument("--database-url", help="server to create the scratch database on")
    parser.add_argument("--window-s", type=float, help="variant: coalescing window")
    parser.add_argument("--sensor-interval", type=int, help="variant: minimum_interval_seconds")
    parser.add_argument("--in-process", action="store_true", help="variant: in-process executor")
    parser.add_argument("--dequeue-interval", type=int, help="variant: dequeue_interval_seconds")
    parser.add_argument(
        "--code-root", help="variant: a patched copy of the tree (pipelines/, config/, sql/)"
    )
    parser.add_argument("--label", help="results name (default: product, or tuned)")
    parser.add_argument("--render-only", action="store_true", help="rewrite RESULTS.md only")
    args = parser.parse_args()
    if args.render_only:
        write_section(SECTION, render_all(load_results()), RESULTS_MD)
        return 0
    varied = args.in_process or any(
        v is not None
        for v in (args.window_s, args.sensor_interval, args.dequeue_interval, args.code_root)
    )
    args.label = args.label or ("tuned" if varied else "product")
    with tempfile.TemporaryDirectory(prefix="bench_latency_") as name:
        tmp = Path(name)
        procs = Processes(tmp)
        try:
            summary = run(args, tmp, procs)
        except BaseException:
            print(procs.tail(), file=sys.stderr)
            raise
    print(render(summary))
    results = {**load_results(), args.label: summary}
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    RESULTS_JSON.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    blocks = [render(s) for s in sorted(results.values(), key=lambda s: s["label"] != "product")]
    RESULTS_TXT.write_text("\n\n".join(blocks) + "\n", encoding="utf-8")
    write_section(SECTION, render_all(results), RESULTS_MD)
    lat = summary["latency_s"]
    return 0 if lat["timed_out"] == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
