"""`tampuuri-sync doctor` against the simulator over HTTP and a real PostgreSQL.

Protects the issue's promises: the plan is shown before any call and nothing is spent
without --yes; the calls spent equal the plan, stay within the cap and are ledgered with
trigger "doctor"; the standard contract is confirmed; a simulator contradicting each
assumption in turn is caught with evidence, written to the override file, and the
catalogue then loads the correction.
"""

from __future__ import annotations

import httpx
import yaml
from sqlalchemy import text

from pipelines.budget.packages import package_for
from pipelines.budget.plan import plan_sync
from pipelines.declarations import load_declarations
from pipelines.doctor.run import contract_catalogue, run_doctor
from pipelines.sync.engine import SyncRequest, run_sync
from pipelines.tampuuri.catalogue import load_catalogue
from pipelines.tampuuri.catalogue_overrides import overrides_path
from tests.doctor.conftest import FAST
from tests.sync.helpers import assert_parity, fill_ledger

# variant -> the (assumption, resource) topics it contradicts, and the corrections the
# catalogue then applies (key -> value; None: the key is removed).
LISTS = ("kustannuspaikat", "kohteet", "osapuoli_yhteydet", "ilmoitukset")
VARIANTS: dict[str, tuple[set[tuple[str, str]], dict[str, object]]] = {
    "descending_ids": (
        {("ascending_ids", r) for r in LISTS},
        {f"resources.{r}.ordered_by_id": False for r in ("osapuoli_yhteydet", "ilmoitukset")},
    ),
    "limit_clamp_100": ({("limit_clamp", "osapuoli_yhteydet")}, {"max_page_size": 100}),
    "since_ignored": (
        {("change_since", "kustannuspaikat"), ("change_since", "ilmoitukset")},
        {f"resources.{r}.change_since": None for r in ("kustannuspaikat", "ilmoitukset")},
    ),
    "limit_rejected": ({("limit_clamp", "osapuoli_yhteydet")}, {}),
    "since_exclusive": (
        {("change_since", "kustannuspaikat"), ("change_since", "ilmoitukset")},
        {},
    ),
    "total_unstable": ({("total_stable", "kustannuspaikat")}, {}),
    "deleted_found": ({("deleted_404", "kohteet"), ("deleted_404", "ilmoitukset")}, {}),
    "batch_limit_100": (
        {("batch_max_ids", "osapuolet")},
        {"resources.osapuolet.batch.max_ids": 100},
    ),
    "scope_ignored": (
        {("scope_filter", "osapuoli_yhteydet"), ("scope_filter", "ilmoitukset")},
        {},
    ),
}


# asset resource -> the catalogue resource whose list its full scan pages through
SCANNED = {
    "kustannuspaikat": "kustannuspaikat",
    "kohteet": "kohteet",
    "osapuolet": "osapuoli_yhteydet",
    "ilmoitukset": "ilmoitukset",
}


def doctor(engine, account, routes_file, **options):
    config, environ = account
    return run_doctor(
        engine, config, routes_file=routes_file, settings=FAST, environ=environ, **options
    )


def doctor_ledger(engine, run_id: str) -> int:
    with engine.connect() as conn:
        return conn.execute(
            text("SELECT count(*) FROM ops.api_calls WHERE trigger = 'doctor' AND run_id = :r"),
            {"r": run_id},
        ).scalar_one()


def sim_calls(sim) -> int:
    return sum(row["count"] for row in sim.transactions())


def test_without_yes_the_plan_is_shown_and_nothing_is_spent(
    engine, sim, account, routes_file, synced
):
    run = doctor(engine, account, routes_file, spend=False)
    assert run.plan.calls == 15 and not run.spent and run.findings == []
    assert sim_calls(sim) == 0
    assert not overrides_path(routes_file).exists()


def test_the_standard_contract_is_confirmed_with_the_planned_calls(
    engine, sim, account, routes_file, synced
):
    run = doctor(engine, account, routes_file, spend=True)
    verdicts = {f.topic: f.verdict for f in run.findings}
    assert set(verdicts.values()) == {"confirmed"}, [
        (f.topic, f.verdict, f.evidence) for f in run.findings if f.verdict != "confirmed"
    ]
    assert len(verdicts) == 13  # 4 orders, clamp, 2 change-since, Total, 2 x 404, batch, 2 scopes
    assert run.calls == run.plan.calls == 15 <= 30
    assert sum(f.calls for f in run.findings) == run.calls
    assert sim_calls(sim) == run.calls == doctor_ledger(engine, run.run_id)
    deleted = {f.resource: f.evidence for f in run.findings if f.assumption == "deleted_404"}
    assert str(synced["kohteet"]) in deleted["kohteet"] and "404" in deleted["kohteet"]
    written = yaml.safe_load(overrides_path(routes_file).read_text(encoding="utf-8"))
    assert written["account"] == "demo-a" and written["contradicted"] == []
    assert load_catalogue(routes_file) == contract_catalogue(routes_file)


def test_each_contradicted_assumption_is_caught_and_corrected(
    engine, sim, account, routes_file, synced, base_url
):
    admin = base_url.removesuffix("/v10/api/") + "/_sim/contract"
    for variant, (topics, corrections) in VARIANTS.items():
        overrides_path(routes_file).unlink(missing_ok=True)
        assert httpx.put(admin, json={"variant": variant}).status_code == 200
        sim.counter.reset()
        run = doctor(engine, account, routes_file, spend=True)
        contradicted = {f.topic for f in run.findings if f.verdict == "contradicted"}
        assert contradicted == topics, (
            variant,
            [(f.topic, f.verdict, f.evidence) for f in run.findings],
        )
        assert all(f.evidence for f in run.findings)
        assert all(f.key or f.action for f in run.findings if f.verdict == "contradicted")
        assert sim_calls(sim) == run.calls == doctor_ledger(engine, run.run_id) <= run.plan.calls
        written = yaml.safe_load(overrides_path(routes_file).read_text(encoding="utf-8"))
        assert {(e["assumption"], e["resource"]) for e in written["contradicted"]} == topics
        assert {e["key"]: e["value"] for e in written["contradicted"] if "key" in e} == corrections
        catalogue = load_catalogue(routes_file)
        for key, value in corrections.items():
            node = catalogue
            parts = key.split(".")
            for part in parts[1:-1] if parts[0] == "resources" else parts[:-1]:
                node = node.resources[part] if hasattr(node, "resources") else getattr(node, part)
            assert getattr(node, parts[-1]) == value, (variant, key)
    httpx.put(admin, json={"variant": "standard"})


def test_the_budget_guard_refuses_calls_that_would_eat_the_webhook_reserve(
    engine, sim, account, routes_file, synced
):
    config, environ = account
    with_webhooks = (config.model_copy(update={"webhooks": True}), environ)
    package = package_for(config)
    fill_ledger(engine, "demo-a", package.included_calls - 10)  # under the reserve now
    run = doctor(engine, with_webhooks, routes_file, spend=True)
    assert run.refused is not None and "webhook reserve" in run.refused
    assert not run.spent and sim_calls(sim) == 0
    assert not overrides_path(routes_file).exists()


def test_no_webhook_reserve_is_held_for_an_account_without_webhooks(
    engine, sim, account, routes_file, synced
):
    config, environ = account
    package = package_for(config)
    run = doctor(engine, account, routes_file, spend=False)
    # Room for the doctor's calls, but not for them and a 10 % webhook reserve as well.
    with engine.connect() as conn:
        used = conn.execute(text("SELECT count(*) FROM ops.api_calls")).scalar_one()
    fill_ledger(engine, "demo-a", package.included_calls - used - run.plan.calls)
    with_webhooks = (config.model_copy(update={"webhooks": True}), environ)
    refused = doctor(engine, with_webhooks, routes_file, spend=True)
    assert refused.refused is not None and "webhook reserve" in refused.refused
    assert sim_calls(sim) == 0
    run = doctor(engine, account, routes_file, spend=True)  # no webhooks: no reserve
    assert run.refused is None and run.spent
    assert sim_calls(sim) == run.calls == doctor_ledger(engine, run.run_id) <= run.plan.calls


def test_a_smaller_clamp_once_measured_makes_the_plan_match_the_scans(
    engine, sim, account, routes_file, synced
):
    """Under a 100-row clamp a 250-row plan under-counts the list pages; with the doctor's
    correction the plan of a full sync equals the pages each list scan reads."""
    config, environ = account
    sim.contract.choose("limit_clamp_100")
    doctor(engine, account, routes_file, spend=True)
    corrected = load_catalogue(routes_file)
    assert corrected.max_page_size == 100
    with engine.connect() as conn:
        planned = plan_sync(conn, corrected, config, full=True)
        naive = plan_sync(conn, contract_catalogue(routes_file), config, full=True)
    sim.counter.reset()
    report = run_sync(
        engine, SyncRequest(config, full=True), environ=environ, settings=FAST, catalogue=corrected
    )
    assert report.ok, [r.error for r in report.resources]
    read = {(row["method"], row["route"]): row["count"] for row in sim.transactions()}
    lists = {r: corrected.resources[t].list for r, t in SCANNED.items()}
    pages = {r: read[(route.method, route.template)] for r, route in lists.items() if route}
    assert pages == {r.resource: r.calls for r in planned.resources}
    assert pages != {r.resource: r.calls for r in naive.resources}


def test_with_descending_ids_corrected_the_sync_still_mirrors_the_account(
    engine, sim, account, routes_file, synced
):
    """No id order to prove pages by: scans fall back to the Total rule, reads from a
    list's end are off (ordered_by_id false), and a full sync still equals the account."""
    config, environ = account
    sim.contract.choose("descending_ids")
    doctor(engine, account, routes_file, spend=True)
    corrected = load_catalogue(routes_file)
    # The doctor probes the routes the account syncs (here: no opt-in resources).
    synced = {t for a in config.synced_assets() for t in load_declarations().assets[a].tables}
    assert not any(r.ordered_by_id for n, r in corrected.resources.items() if n in synced)
    sim.apply_change("demo-a", "ilmoitukset", "insert", fields={})
    report = run_sync(
        engine, SyncRequest(config, full=True), environ=environ, settings=FAST, catalogue=corrected
    )
    assert report.ok, [r.error for r in report.resources]
    assert_parity(engine, sim, "demo-a")


def test_a_cap_of_zero_spends_nothing_and_says_what_was_left_out(
    engine, sim, account, routes_file, synced
):
    run = doctor(engine, account, routes_file, spend=True, max_calls=0)
    assert run.plan.calls == 0 and not run.spent and sim_calls(sim) == 0
    assert len(run.findings) == 13
    assert {f.evidence for f in run.findings} == {"left out: over --max-calls 0"}
    assert not overrides_path(routes_file).exists()


def test_an_api_that_answers_only_errors_leaves_every_assumption_could_not_tell(
    engine, sim, account, routes_file, synced, base_url
):
    """Every probe's call fails (503 after the retries the cap allows): each assumption is
    "could not tell" with the failure as evidence, within the cap, and nothing is written
    over the contract (an unsettled assumption keeps what an earlier run found)."""
    faults = base_url.removesuffix("/v10/api/") + "/_sim/faults"
    assert httpx.put(faults, json={"error_rate": 1.0, "error_statuses": [503]}).status_code == 200
    sim.counter.reset()

    run = doctor(engine, account, routes_file, spend=True)

    verdicts = {f.topic: f.verdict for f in run.findings}
    assert set(verdicts.values()) == {"could not tell"}, verdicts
    assert len(verdicts) == 13
    assert all("503" in f.evidence for f in run.findings if f.calls), [
        (f.topic, f.evidence) for f in run.findings
    ]
    assert sum(f.calls > 0 for f in run.findings) >= 5  # probes really called and failed
    assert run.calls <= 30 and sim_calls(sim) == run.calls == doctor_ledger(engine, run.run_id)
    assert load_catalogue(routes_file) == contract_catalogue(routes_file)
