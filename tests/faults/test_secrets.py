"""No secret ever leaves the process: not in logs, errors, the warehouse or Dagster events.

Protects issue 7's secrets promise. Distinctive values stand in for the API key, the API
password, a mistyped password and the warehouse password; runs that succeed and runs that
fail (401 wrong password, 403 missing right, and a 400 whose API `Message` echoes the
caller's secret headers back) go through the sync engine in process, through the CLI as a
subprocess with DEBUG logging, and through a Dagster materialisation. Then every captured
log line, exception text, CLI output, every text and jsonb column of `ops.*` and
`tampuuri.*` and every Dagster event-log entry is searched for each secret. The warehouse
URL shown by the CLI is the `redacted()` one.
"""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path

import dagster as dg
import httpx
import orjson
import pytest
import yaml
from dagster._serdes import serialize_value
from sqlalchemy import Engine, text

from pipelines import definitions
from pipelines.resources import TampuuriResource, WarehouseResource
from pipelines.settings import load_sync_settings
from pipelines.simulator import AccountCredentials, Simulator, SimulatorConfig
from pipelines.simulator.config import default_role
from pipelines.simulator.server import serve_in_thread
from pipelines.sync.engine import SyncRequest, run_sync
from pipelines.sync.report import SyncReport
from pipelines.warehouse.engine import redacted
from tests.faults.helpers import cli_env, run_cli, with_password
from tests.sync.helpers import account_for

ACCOUNT = "demo-a"
API_KEY = "5ec7e7a1-0b5e-4c3a-9e2f-7ab1e5ec7e7a"
PASSWORD = "Zq81-Salasana;'\"--xW7!vuoto"
WRONG_PASSWORD = "Vaara-Salasana-44Qx1"
DB_PASSWORD = "Db-Salasana-77Kk2"
SECRETS = (API_KEY, PASSWORD, WRONG_PASSWORD, DB_PASSWORD)
ECHOED_ROUTE = "ilmoitukset/selaa"
FAST = dataclasses.replace(
    load_sync_settings(), backoff_initial_s=0.001, backoff_max_s=0.01, max_attempts=3
)


def _simulator() -> Simulator:
    creds = AccountCredentials(
        api_key=API_KEY,
        customer_name="Salainen Isannointi Oy",
        account_name=ACCOUNT,
        username="api-salainen",
        password=PASSWORD,
    )
    return Simulator(
        SimulatorConfig(seed=4, scale=300, accounts=(ACCOUNT,), credentials={ACCOUNT: creds})
    )


class EchoingApi:
    """The simulator behind a front that, while `echo` is on, answers the notice list with
    a 400 whose Message and ModelState repeat the caller's secret headers (a badly behaved
    API: the client must mask them before they reach any text)."""

    def __init__(self, sim: Simulator) -> None:
        self.sim = sim
        self.echo = False
        self.app = self

    async def __call__(self, scope, receive, send) -> None:
        path = scope.get("path", "").lower()
        if scope["type"] == "http" and self.echo and path.endswith(ECHOED_ROUTE):
            headers = {k.decode().lower(): v.decode("latin-1") for k, v in scope["headers"]}
            password, key = headers.get("x-salasana"), headers.get("x-tampuuriavain")
            body = orjson.dumps(
                {
                    "Message": f"Virheellinen pyyntö: X-Salasana={password} X-TampuuriAvain={key}",
                    "ModelState": {"X-Salasana": [f"'{password}' is not valid."]},
                }
            )
            await send(
                {
                    "type": "http.response.start",
                    "status": 400,
                    "headers": [(b"content-type", b"application/json")],
                }
            )
            await send({"type": "http.response.body", "body": body})
            return
        await self.sim.app(scope, receive, send)


def _leaks(label: str, blob: str) -> list[str]:
    return [f"{label}: secret #{SECRETS.index(s)}" for s in SECRETS if s in blob]


def _warehouse_leaks(engine: Engine) -> list[str]:
    """Every text-like column of every ops.* and tampuuri.* table, searched for each secret."""
    found: list[str] = []
    with engine.connect() as conn:
        columns = conn.execute(
            text(
                "SELECT c.table_schema, c.table_name, c.column_name"
                " FROM information_schema.columns c JOIN information_schema.tables t"
                " USING (table_schema, table_name)"
                " WHERE c.table_schema IN ('ops', 'tampuuri') AND t.table_type = 'BASE TABLE'"
                " AND c.data_type IN ('text', 'jsonb', 'json', 'character varying')"
            )
        ).all()
        assert len(columns) > 40  # the query saw the schema, not an empty set
        rows_with_text = 0
        for schema, table, column in columns:
            # Identifiers come from the catalogue and are quoted; the secrets are bound.
            qualified = f'"{schema}"."{table}"'
            rows_with_text += conn.execute(
                text(f'SELECT count("{column}") FROM {qualified}')
            ).scalar_one()
            for index, secret in enumerate(SECRETS):
                hits = conn.execute(
                    text(
                        f'SELECT count(*) FROM {qualified} WHERE strpos("{column}"::text, :s) > 0'
                    ),
                    {"s": secret},
                ).scalar_one()
                if hits:
                    found.append(f"{schema}.{table}.{column}: secret #{index} in {hits} rows")
        assert rows_with_text > 0
    return found


def _report_text(report: SyncReport) -> str:
    parts = [repr(report)]
    for resource in report.resources:
        parts += [resource.error or "", repr(resource.skipped)]
    return "\n".join(parts)


def _engine_run(engine, sim, transport, environ) -> SyncReport:
    account, _ = account_for(sim, ACCOUNT)
    return run_sync(
        engine,
        SyncRequest(account, full=True),
        transport=transport,
        environ=environ,
        settings=FAST,
    )


def test_engine_runs_keep_secrets_out_of_logs_errors_and_tables(engine, caplog):
    caplog.set_level(logging.DEBUG)
    sim = _simulator()
    front = EchoingApi(sim)
    transport = httpx.ASGITransport(app=front)
    account, environ = account_for(sim, ACCOUNT)
    texts: list[tuple[str, str]] = [
        ("credentials repr", repr(account.resolve_credentials(environ)))
    ]

    ok = _engine_run(engine, sim, transport, environ)
    assert ok.ok, [r.error for r in ok.resources]

    wrong = _engine_run(engine, sim, transport, {**environ, "DEMO_A_PASSWORD": WRONG_PASSWORD})
    assert not wrong.ok and "401" in (wrong.resources[0].error or "")

    sim.set_role(ACCOUNT, {**default_role(), ECHOED_ROUTE: frozenset()})
    forbidden = _engine_run(engine, sim, transport, environ)
    sim.set_role(ACCOUNT, default_role())
    assert "403" in _report_text(forbidden)

    front.echo = True
    echoed = _engine_run(engine, sim, transport, environ)
    front.echo = False
    notices = echoed.resource("ilmoitukset")
    assert notices.status == "failed" and "400" in (notices.error or "")
    assert "X-Salasana=***" in (notices.error or "")  # the message is kept, masked

    for name, report in (("ok", ok), ("401", wrong), ("403", forbidden), ("400", echoed)):
        texts.append((f"{name} report", _report_text(report)))
    texts.append(("caplog", caplog.text))
    for record in caplog.records:
        texts.append((f"log {record.name}", record.getMessage() + repr(record.args)))
    assert len(caplog.records) > 10  # DEBUG really was captured (httpx, the client, ...)

    leaks = [leak for label, blob in texts for leak in _leaks(label, blob)]
    assert leaks == []
    assert _warehouse_leaks(engine) == []
    # Control: the search does find a secret where one is planted.
    with engine.begin() as conn:
        conn.execute(
            text("UPDATE ops.sync_runs SET error = :e WHERE run_id = :r AND resource = :res"),
            {"e": f"planted {PASSWORD} here", "r": ok.run_id, "res": "kohteet"},
        )
    assert _warehouse_leaks(engine) == ["ops.sync_runs.error: secret #1 in 1 rows"]


def test_cli_runs_keep_secrets_out_of_output_and_show_the_redacted_url(engine, warehouse_url):
    sim = _simulator()
    front = EchoingApi(sim)
    url = with_password(warehouse_url, DB_PASSWORD)
    outputs: list[tuple[str, str]] = []
    with serve_in_thread(front) as base_url:  # type: ignore[arg-type]
        env = cli_env(sim, ACCOUNT, base_url, url)

        code, output = run_cli(["db", "url"], env)
        assert code == 0 and output.strip() == redacted(url)
        assert "***" in output
        outputs.append(("db url", output))

        code, output = run_cli(["sync", "--full"], env, debug=True)
        assert code == 0, output
        assert "DEBUG" in output  # the child really logged at DEBUG
        outputs.append(("sync ok", output))

        code, output = run_cli(
            ["sync", "--full"], {**env, "TAMPUURI_PASSWORD": WRONG_PASSWORD}, debug=True
        )
        assert code == 1 and "401" in output
        outputs.append(("sync 401", output))

        front.echo = True
        code, output = run_cli(["sync", "--full"], env, debug=True)
        front.echo = False
        assert code == 1 and "400" in output and "X-Salasana=***" in output
        outputs.append(("sync 400", output))

    leaks = [leak for label, blob in outputs for leak in _leaks(label, blob)]
    assert leaks == []
    assert _warehouse_leaks(engine) == []


def test_dagster_events_hold_no_secret(
    engine, warehouse_url, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    sim = _simulator()
    creds = sim.credentials(ACCOUNT)
    variables = {}
    for key in ("api_key", "customer_name", "account_name", "username", "password"):
        variables[key] = f"FAULTS_DEMO_A_{key.upper()}"
        monkeypatch.setenv(variables[key], getattr(creds, key))
    accounts = tmp_path / "accounts.yaml"
    accounts.write_text(
        yaml.safe_dump(
            {
                "accounts": [
                    {
                        "name": ACCOUNT,
                        "base_url": "http://sim/v10/api/",
                        "package": "normal",
                        "credentials": variables,
                    }
                ]
            }
        ),
        encoding="utf-8",
    )
    monkeypatch.setenv("TAMPUURI_ACCOUNTS_FILE", str(accounts))
    # The production path: the warehouse URL (with its password) only in the environment.
    monkeypatch.setenv("TAMPUURI_DATABASE_URL", with_password(warehouse_url, DB_PASSWORD))
    defs = definitions.defs()
    resources = {
        "warehouse": WarehouseResource(pool_size=2),
        "tampuuri": TampuuriResource(transport=httpx.ASGITransport(app=sim.app)),
    }
    instance = dg.DagsterInstance.ephemeral()

    def materialise() -> dg.ExecuteInProcessResult:
        return dg.materialize(
            defs.assets,
            selection=["kustannuspaikat"],
            partition_key=ACCOUNT,
            resources=resources,
            instance=instance,
            raise_on_error=False,
        )

    ok = materialise()
    assert ok.success
    assert len(ok.get_asset_materialization_events()) == 1
    monkeypatch.setenv(variables["password"], WRONG_PASSWORD)
    failed = materialise()
    assert not failed.success

    blobs: list[tuple[str, str]] = []
    for result in (ok, failed):
        entries = instance.all_logs(result.run_id)
        assert len(entries) > 5
        blobs += [(f"event log {result.run_id}", serialize_value(e)) for e in entries]
        blobs += [(f"event {result.run_id}", serialize_value(e)) for e in result.all_events]
        blobs.append(("run", serialize_value(instance.get_run_by_id(result.run_id))))
    failure = next(e for e in failed.all_events if e.event_type_value == "STEP_FAILURE")
    assert "401" in serialize_value(failure)

    leaks = [leak for label, blob in blobs for leak in _leaks(label, blob)]
    assert leaks == []
    assert _warehouse_leaks(engine) == []
