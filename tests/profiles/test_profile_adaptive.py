"""Budget-adaptive profiles: a forecast over the package widens the account's webhook window
and stretches its reconciliation one step an hour up to its profile's limits, each change
stored (ops.profile_adjustments) and logged with why, shown by `budget`, by the sensor and
on the sweep's Dagster metadata; once the forecast is below 90 % of the package, it
tightens back step by step to the profile as written. The forecast is `budget`'s own.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import dagster as dg
import typer
from sqlalchemy import text
from typer.testing import CliRunner

from pipelines.budget.cli import budget_command
from pipelines.budget.guard import decide, used_calls
from pipelines.budget.month_usage import month_usage
from pipelines.budget.packages import BillingCycle, package_for
from pipelines.budget.plan import plan_sync
from pipelines.budget.report import usage_report
from pipelines.profiles.adapt import adapt_accounts, loosened_account
from pipelines.profiles.cadence import lists_due
from pipelines.profiles.state import latest_adjustments
from pipelines.resources import TampuuriResource, WarehouseResource
from pipelines.sensors.reconcile import reconcile_job
from pipelines.sync.reconcile import PROBED

from .deployment import FRUGAL, OVER, REALTIME, Deployment, event_ids


def _history(deployment: Deployment) -> list[tuple]:
    with deployment.engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT account, profile, level, webhook_window_s, reconcile_stretch"
                " FROM ops.profile_adjustments ORDER BY adjustment_id"
            )
        ).all()
    return [tuple(r) for r in rows]


def test_a_forecast_over_the_package_widens_the_window_until_the_limit_then_tightens_back(
    deployment: Deployment, capfd, tmp_path, monkeypatch
):
    now = datetime.now(UTC)
    deployment.spend(REALTIME, OVER, now - timedelta(minutes=1))
    account = deployment.accounts[REALTIME]
    with deployment.engine.connect() as conn:
        forecast = month_usage(conn, account, now).forecast
    assert forecast == usage_report(deployment.engine, account, now=now).projected > 2_000

    # The sensor's tick evaluates first: the default profile's window (0 s) widens a step
    # (to a quarter of the way to its 900 s limit), so the new event waits for it.
    [event] = deployment.notice_changed(REALTIME)
    instance = dg.DagsterInstance.ephemeral()
    tick = deployment.tick(deployment.sensor(), instance)
    assert tick.run_requests == []
    assert tick.skip_reason.skip_message.startswith(
        f"{REALTIME}: 1 event(s) held for its 225 s window"
    )
    assert _history(deployment) == [(REALTIME, "default", 1, 225.0, 1.75)]
    with deployment.engine.connect() as conn:
        stored = latest_adjustments(conn, [REALTIME, FRUGAL])
    assert list(stored) == [REALTIME]  # the frugal account spent nothing: untouched
    reason = stored[REALTIME].reason
    assert reason.startswith(
        f"forecast {stored[REALTIME].forecast_calls:,} calls this cycle is over the package's"
        " 2,000: webhook window widened 0 s -> 225 s, reconciliation stretched x1 -> x1.75"
        " (level 1 of 4)"
    )
    # The sensor's log (Dagster's logger) says it, once.
    logged = [line for line in capfd.readouterr().err.splitlines() if "profile)" in line]
    assert len(logged) == 1
    assert logged[0].endswith(f" - dagster - INFO - {REALTIME} (default profile): {reason}")

    # Within the hour nothing moves; the sweep runs on the stretched profile and says so.
    later = deployment.tick(deployment.sensor(), instance, tick.cursor)
    assert later.run_requests == [] and len(_history(deployment)) == 1
    accounts = deployment.write_accounts(tmp_path, monkeypatch)
    result = reconcile_job.execute_in_process(
        run_config={"ops": {"reconcile": {"config": {"account": REALTIME}}}},
        resources={
            "warehouse": WarehouseResource(database_url=deployment.warehouse_url),
            "tampuuri": TampuuriResource(accounts_file=accounts, transport=deployment.transport),
        },
        instance=instance,
    )
    assert result.success
    (output,) = [e for e in result.all_events if e.event_type_value == "STEP_OUTPUT"]
    metadata = {k: v.value for k, v in output.event_specific_data.metadata.items()}
    assert metadata["profile"].startswith(
        "default: webhook changes within 225 s; lists probed every kustannuspaikat 2 d,"
        " osapuolet 2 d, ilmoitukset 2 d; objects re-scanned within 13 d; links re-read"
        " every 13 d; on drift locate; 10% kept for webhooks"
    )
    assert metadata["profile_adjustment"].startswith("loosened, level 1 of 4 since ")
    assert metadata["profile_adjustment"].endswith(reason)
    # The forecast at the sweep's own time (a moment later, its own calls counted).
    shown, of = metadata["forecast_this_cycle"].split(" of ")
    assert int(shown.replace(",", "")) > 2_000 and of == "2,000 calls"
    # What the sweep wrote shows on the account's asset partitions, with the profile.
    written = result.asset_materializations_for_node("reconcile")
    assert written
    for materialization in written:
        assert materialization.partition == REALTIME
        assert materialization.metadata["profile"].value == metadata["profile"]

    # One step an hour while the forecast stays over, up to the limit, then it holds.
    hour = timedelta(hours=1, seconds=1)
    base = stored[REALTIME].changed_at
    said: list[str] = []
    for i in range(1, 5):
        adapt_accounts(
            deployment.engine,
            list(deployment.accounts.values()),
            now=base + i * hour,
            log=said.append,
        )
    assert [row[2:] for row in _history(deployment)] == [
        (1, 225.0, 1.75), (2, 450.0, 2.5), (3, 675.0, 3.25), (4, 900.0, 4.0)
    ]  # fmt: skip
    assert len(said) == 3 and "widened 675 s -> 900 s" in said[-1]
    at_limit = adapt_accounts(deployment.engine, [account], now=base + 5 * hour)[REALTIME]
    assert at_limit.loosening.webhook_window_s == 900.0 and not at_limit.changed_now
    stretched = loosened_account(account, at_limit.loosening)
    assert stretched.budget.full_scan_period_days == 28
    assert stretched.budget.list_rescan_period_days == 28
    assert stretched.effective_profile.cadence("ilmoitukset") == 4
    nights = [base + timedelta(days=d) for d in range(8)]
    assert sum(len(lists_due(stretched, PROBED, n)) for n in nights) == 2 * len(PROBED)

    # The calls stop counting (a new cycle's worth of quiet): it tightens back to 0 s.
    with deployment.engine.begin() as conn:
        conn.execute(text("DELETE FROM ops.api_calls WHERE account = :a"), {"a": REALTIME})
    said.clear()
    for i in range(6, 11):
        adapt_accounts(deployment.engine, [account], now=base + i * hour, log=said.append)
    assert [row[2:] for row in _history(deployment)[-4:]] == [
        (3, 675.0, 3.25), (2, 450.0, 2.5), (1, 225.0, 1.75), (0, 0.0, 1.0)
    ]  # fmt: skip
    assert len(said) == 4
    assert said[0] == (
        f"{REALTIME} (default profile): forecast 0 calls this cycle is below 90% of the"
        " package's 2,000 (1,800): webhook window tightened 900 s -> 675 s, reconciliation"
        " stretched x4 -> x3.25 (level 3 of 4)"
    )
    # Back as written: the event goes at once.
    with deployment.engine.begin() as conn:  # the stored change is in the test's future
        conn.execute(text("UPDATE ops.profile_adjustments SET changed_at = now()"))
    [request] = deployment.tick(deployment.sensor(), instance, later.cursor).run_requests
    assert event_ids(request) == [event]


def test_budget_shows_each_accounts_profile_and_its_adjustment(
    deployment: Deployment, tmp_path, monkeypatch
):
    deployment.write_accounts(tmp_path, monkeypatch)
    now = datetime.now(UTC)
    deployment.spend(REALTIME, OVER, now - timedelta(minutes=1))
    [applied] = adapt_accounts(deployment.engine, [deployment.accounts[REALTIME]], now=now).values()
    app = typer.Typer()
    app.command()(budget_command)
    runner = CliRunner()
    result = runner.invoke(app, ["--json"])
    assert result.exit_code == 0, result.output
    profiles = {r["account"]: r["profile"] for r in json.loads(result.output)["reports"]}
    assert profiles[REALTIME]["level"] == 1 and profiles[REALTIME]["webhook_window_s"] == 225.0
    assert profiles[REALTIME]["adjustment"].endswith(applied.reason)
    assert profiles[FRUGAL]["level"] == 0
    said = profiles[FRUGAL]["adjustment"]  # its forecast counts the sync's few calls
    assert said.startswith("as written (forecast ")
    assert said.endswith(" of the package's 2,000; may widen to 14,400 s and stretch x2)")
    text_out = runner.invoke(app, ["--account", REALTIME], env={"COLUMNS": "400"}).output
    assert f"{REALTIME}: profile" in text_out
    assert "loosened, level 1 of 4 since" in text_out
    assert "webhook window widened 0 s -> 225 s" in text_out


def test_the_profile_loosens_while_the_nightly_sync_still_runs_whole(deployment: Deployment):
    """Issue 19 item 2's order: the forecast crossing the package widens the window and
    stretches reconciliation while the budget guard still lets the nightly sync run untrimmed
    (it trims only when the calls already spent leave too few)."""
    now = datetime.now(UTC)
    account = deployment.accounts[REALTIME]
    deployment.spend(REALTIME, 300, now - timedelta(minutes=1))  # 15 % of the package spent
    with deployment.engine.connect() as conn:
        forecast = month_usage(conn, account, now).forecast
        cycle = BillingCycle.for_account(account, now)
        used = used_calls(conn, account, cycle)
        nightly = plan_sync(conn, None, account, full=False)
    assert forecast > 2_000 and 300 <= used < 2_000 - 200  # under the package and reserve

    applied = adapt_accounts(deployment.engine, [account], now=now)

    assert applied[REALTIME].loosening.level == 1 and applied[REALTIME].changed_now
    assert _history(deployment) == [(REALTIME, "default", 1, 225.0, 1.75)]
    decision = decide(
        nightly,
        priority="incremental",
        used_calls=used,
        package=package_for(account),
        account_budget=account.budget,
        now=now,
        cycle=cycle,
    )
    assert (decision.action, decision.trimmed_plan) == ("run", None), decision.reason
