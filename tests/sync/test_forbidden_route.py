"""A 403 refusing a whole route (the API user's role lacks its right) is not an object right.

Simulator over real HTTP (uvicorn on a loopback port) into a real PostgreSQL, through the
`tampuuri-sync sync` command: a role without `Hae` on `ilmoitukset/selaa` makes the run
exit non-zero with `ilmoitukset` `forbidden` in `ops.sync_runs` and in the summary, one
sentence naming the route and the right, one call spent on the refused route, and every
other resource synced with its exact rows. Listed under the account's `not_licensed`, the
same refusal is expected: `not_licensed`, exit 0. Object 403s (no kohdeoikeus to some cost
centres) are still skipped and reported, each as a sentence.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from sqlalchemy import Engine, text
from typer.testing import CliRunner, Result

from pipelines.cli import _mount_optional_apps, app
from pipelines.settings import load_sync_settings
from pipelines.simulator import Simulator, SimulatorConfig
from pipelines.simulator.config import default_role
from pipelines.simulator.server import serve_in_thread
from pipelines.sync.engine import SyncRequest, run_sync
from pipelines.sync.reconcile import reconcile_account
from pipelines.tampuuri.errors import object_refusal_sentence
from tests.sync.helpers import account_for, warehouse_rows

ACCOUNT = "demo-a"
NOTICES = "ilmoitukset/selaa"


def role_without(template: str) -> dict[str, frozenset[str]]:
    """The default role less the Hae right on one route."""
    role = default_role()
    role[template] = role[template] - {"Hae"}
    return role


def pages(rows: int) -> int:
    return max(1, math.ceil(rows / 250))


def calls_by_route(sim: Simulator) -> dict[tuple[str, int], int]:
    counts: dict[tuple[str, int], int] = {}
    for row in sim.transactions(ACCOUNT):
        key = (row["route"], row["status"])
        counts[key] = counts.get(key, 0) + row["count"]
    return counts


def runs(engine: Engine) -> dict[str, tuple[str, str | None, int, int]]:
    """resource -> (status, error, inserted, calls) of the account's one run."""
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT resource, status, error, inserted, calls FROM ops.sync_runs"
                " WHERE account = :a"
            ),
            {"a": ACCOUNT},
        ).all()
    return {r.resource: (r.status, r.error, r.inserted, r.calls) for r in rows}


@pytest.fixture
def served() -> Iterator[tuple[Simulator, str]]:
    sim = Simulator(
        SimulatorConfig(
            seed=12, scale=900, accounts=(ACCOUNT,), roles={ACCOUNT: role_without(NOTICES)}
        )
    )
    with serve_in_thread(sim, host="127.0.0.1", port=0) as api:
        yield sim, f"{api}/v10/api/"


def cli_sync(sim: Simulator, base_url: str, warehouse_url: str, tmp_path: Path, **extra) -> Result:
    account, environ = account_for(sim, ACCOUNT, base_url=base_url, **extra)
    accounts_file = tmp_path / "accounts.yaml"
    accounts_file.write_text(
        yaml.safe_dump({"accounts": [account.model_dump(mode="json")]}), encoding="utf-8"
    )
    _mount_optional_apps()
    return CliRunner().invoke(
        app,
        ["sync", "--full"],
        env={
            **environ,
            "TAMPUURI_ACCOUNTS_FILE": str(accounts_file),
            "TAMPUURI_DATABASE_URL": warehouse_url,
        },
    )


def assert_others_synced(engine: Engine, sim: Simulator) -> None:
    """Cost centres, objects and links (with their parties) loaded whole, at minimum cost."""
    recorded = runs(engine)
    for resource in ("kustannuspaikat", "kohteet"):
        status, error, inserted, _ = recorded[resource]
        assert (status, error) == ("success", None)
        assert inserted == len(sim.items(ACCOUNT, resource))
        assert len(warehouse_rows(engine, ACCOUNT, resource)) == inserted
    links, parties = (len(sim.items(ACCOUNT, t)) for t in ("osapuoli_yhteydet", "osapuolet"))
    assert recorded["osapuolet"][:3] == ("success", None, links + parties)
    cost_centres = sim.items(ACCOUNT, "kustannuspaikat")
    per_cc = {cc["Id"]: 0 for cc in cost_centres}
    for obj in sim.items(ACCOUNT, "kohteet"):
        per_cc[obj["KustannuspaikkaId"]] += 1
    assert recorded["kustannuspaikat"][3] == pages(len(cost_centres))
    assert recorded["kohteet"][3] == sum(pages(n) for n in per_cc.values())
    assert recorded["osapuolet"][3] == pages(links)


def test_a_refused_notice_list_is_forbidden_and_the_sync_exits_non_zero(
    served, engine, warehouse_url, tmp_path
):
    sim, base_url = served
    result = cli_sync(sim, base_url, warehouse_url, tmp_path)

    assert result.exit_code == 1, result.output
    status, error, inserted, calls = runs(engine)["ilmoitukset"]
    assert (status, inserted, calls) == ("forbidden", 0, 1)
    assert error == (
        "account 'demo-a': the API user's role lacks the Hae right (read) on GET"
        " ilmoitukset/selaa, so Tampuuri refused the route as a whole (403) and ilmoitukset"
        " was not synced: ask the account's Tampuuri administrator to grant the right, or"
        " list ilmoitukset under not_licensed in the account's config if its licence lacks"
        " the route."
    )
    assert error.count(". ") == 0 and error.endswith(".")  # one sentence
    # The summary says forbidden; the sentence is one line of the output.
    summary_rows = [line for line in result.output.splitlines() if "│ ilmoitukset" in line]
    assert len(summary_rows) == 1 and "forbidden" in summary_rows[0]
    assert error in result.output.splitlines()
    assert "object right" not in result.output
    # One call on the refused route, and it was refused; nothing else failed.
    spent = calls_by_route(sim)
    assert {k: n for k, n in spent.items() if k[0] == NOTICES} == {(NOTICES, 403): 1}
    assert {k for k in spent if k[1] != 200} == {(NOTICES, 403)}
    assert warehouse_rows(engine, ACCOUNT, "ilmoitukset") == {}
    with engine.connect() as conn:
        state = conn.execute(
            text("SELECT count(*) FROM ops.sync_state WHERE resource = 'ilmoitukset'")
        ).scalar_one()
    assert state == 0  # no cursor, no Total, no success recorded for the refused route
    assert_others_synced(engine, sim)


def test_a_route_listed_as_not_licensed_is_expected_and_the_sync_exits_zero(
    served, engine, warehouse_url, tmp_path
):
    sim, base_url = served
    result = cli_sync(sim, base_url, warehouse_url, tmp_path, not_licensed=["ilmoitukset"])

    assert result.exit_code == 0, result.output
    status, error, inserted, calls = runs(engine)["ilmoitukset"]
    assert (status, inserted, calls) == ("not_licensed", 0, 1)
    assert error == (
        "account 'demo-a': ilmoitukset is not licensed (not_licensed in the account's"
        " config), and GET ilmoitukset/selaa answered 403 as expected."
    )
    summary_rows = [line for line in result.output.splitlines() if "│ ilmoitukset" in line]
    assert len(summary_rows) == 1 and "not_licensed" in summary_rows[0]
    assert calls_by_route(sim)[(NOTICES, 403)] == 1
    assert_others_synced(engine, sim)


def test_object_403s_are_skipped_and_each_printed_as_a_sentence(engine, warehouse_url, tmp_path):
    sim = Simulator(SimulatorConfig(seed=8, scale=900, accounts=(ACCOUNT,), forbidden_share=0.34))
    forbidden = sim.forbidden_cost_centres(ACCOUNT)
    assert len(forbidden) >= 2
    with serve_in_thread(sim, host="127.0.0.1", port=0) as api:
        result = cli_sync(sim, f"{api}/v10/api/", warehouse_url, tmp_path)

    assert result.exit_code == 0, result.output
    assert runs(engine)["kohteet"][:2] == ("success", None)
    lines = [line for line in result.output.splitlines() if "object right" in line]
    assert len(lines) == min(10, len(forbidden))  # the CLI shows the first ten
    for line in lines:
        assert "{" not in line and "'resource'" not in line, line
        assert line.startswith("account 'demo-a': the API user has no object right")
        assert line.endswith("so their rows were kept as they were and reported as skipped.")
    shown = sorted(int(line.split("kohde_id ")[1].split(" ")[0]) for line in lines)
    assert len(set(shown)) == len(lines) and set(shown) <= set(forbidden)
    assert f"(POST kohteet/{shown[0]}/selaa answered 403)" in result.output
    assert calls_by_route(sim)[("kohteet/{kohde_id}/selaa", 403)] == len(forbidden)


def test_refused_object_lists_stop_after_the_first_call_and_mark_kohteet_forbidden(engine):
    """The role right is missing on a route naming an object (`kohteet/{kohde_id}/selaa`):
    the Message speaks of the role, so the scans of the other cost centres are not made."""
    template = "kohteet/{kohde_id}/selaa"
    sim = Simulator(
        SimulatorConfig(
            seed=12, scale=900, accounts=(ACCOUNT,), roles={ACCOUNT: role_without(template)}
        )
    )
    one_at_a_time = dataclasses.replace(
        load_sync_settings(), scope_concurrency=1, page_concurrency=1
    )
    with serve_in_thread(sim, host="127.0.0.1", port=0) as api:
        account, environ = account_for(sim, ACCOUNT, base_url=f"{api}/v10/api/")
        report = run_sync(
            engine, SyncRequest(account, ("kustannuspaikat", "kohteet"), full=True),
            environ=environ, settings=one_at_a_time,
        )  # fmt: skip
        assert len(sim.items(ACCOUNT, "kustannuspaikat")) > 2
        assert calls_by_route(sim)[(template, 403)] == 1
        defaults = run_sync(
            engine, SyncRequest(account, ("kohteet",), full=True), environ=environ
        ).resource("kohteet")
    kohteet = report.resource("kohteet")
    assert (kohteet.status, kohteet.calls, kohteet.skipped, kohteet.counts.inserted) == (
        "forbidden", 1, [], 0
    )  # fmt: skip
    assert kohteet.error is not None
    assert kohteet.error.startswith(
        "account 'demo-a': the API user's role lacks the Hae right (read) on POST"
        " kohteet/{kohde_id}/selaa, so Tampuuri refused the route as a whole (403)"
    )
    assert not report.ok and report.resource("kustannuspaikat").ok
    # With the default concurrency, at most the scans already in flight are refused.
    settings = load_sync_settings()
    in_flight = max(settings.scope_concurrency, settings.page_concurrency)
    assert defaults.status == "forbidden"
    assert 1 <= defaults.calls <= min(in_flight, len(sim.items(ACCOUNT, "kustannuspaikat")))


def test_a_refused_link_list_marks_osapuolet_forbidden_with_one_call(engine):
    template = "osapuolet/yhteydet/selaa"
    sim = Simulator(
        SimulatorConfig(
            seed=12, scale=300, accounts=(ACCOUNT,), roles={ACCOUNT: role_without(template)}
        )
    )
    with serve_in_thread(sim, host="127.0.0.1", port=0) as api:
        account, environ = account_for(sim, ACCOUNT, base_url=f"{api}/v10/api/")
        report = run_sync(engine, SyncRequest(account, full=True), environ=environ)
    links = report.resource("osapuolet")
    assert (links.status, links.calls, links.counts.inserted) == ("forbidden", 1, 0)
    assert links.error is not None and "GET osapuolet/yhteydet/selaa" in links.error
    assert [r.status for r in report.resources] == ["success", "success", "forbidden", "success"]
    assert calls_by_route(sim)[(template, 403)] == 1
    assert warehouse_rows(engine, ACCOUNT, "osapuolet") == {}


def test_the_reconciliation_sweep_reports_refused_lists_instead_of_failing(engine):
    """Roles change between nights: the sweep's Limit=1 probes meet the refusal first."""
    links = "osapuolet/yhteydet/selaa"
    sim = Simulator(SimulatorConfig(seed=12, scale=300, accounts=(ACCOUNT,)))
    with serve_in_thread(sim, host="127.0.0.1", port=0) as api:
        account, environ = account_for(sim, ACCOUNT, base_url=f"{api}/v10/api/")
        assert run_sync(engine, SyncRequest(account, full=True), environ=environ).ok
        role = role_without(NOTICES)
        role[links] = frozenset()
        sim.set_role(ACCOUNT, role)
        sweep = reconcile_account(engine, account, environ=environ)
    assert not sweep.ok
    assert set(sweep.totals) == {"kustannuspaikat"}
    statuses = {r.resource: r.status for s in sweep.reports for r in s.resources}
    assert {r: s for r, s in statuses.items() if s != "success"} == {
        "ilmoitukset": "forbidden",
        "osapuolet": "forbidden",
    }
    # Each refused list: its probe, then the one call of the sync that reports it.
    spent = calls_by_route(sim)
    assert (spent[(NOTICES, 403)], spent[(links, 403)]) == (2, 2)
    errors = [r.error for s in sweep.reports for r in s.resources if r.status == "forbidden"]
    assert len(errors) == 2
    assert all(e and e.startswith("account 'demo-a': the API user's role lacks") for e in errors)


def test_a_resource_whose_every_scope_is_refused_is_forbidden_not_an_empty_success(engine):
    """A trial on one test property the API user has no object right to: nothing readable."""
    sim = Simulator(SimulatorConfig(seed=8, scale=900, accounts=(ACCOUNT,), forbidden_share=0.34))
    refused = sim.forbidden_cost_centres(ACCOUNT)[0]
    with serve_in_thread(sim, host="127.0.0.1", port=0) as api:
        account, environ = account_for(sim, ACCOUNT, base_url=f"{api}/v10/api/", scope=[refused])
        report = run_sync(
            engine, SyncRequest(account, ("kustannuspaikat", "kohteet"), full=True), environ=environ
        )
    kohteet = report.resource("kohteet")
    assert (kohteet.status, kohteet.calls, len(kohteet.skipped)) == ("forbidden", 1, 1)
    assert kohteet.error == (
        "account 'demo-a': every one of the 1 scope(s) of kohteet answered 403 on POST"
        " kohteet/{kohde_id}/selaa, so nothing of kohteet was read: the API user has no object"
        " right (kohdeoikeus) to any of them, or its role lacks the Hae right on the route."
    )
    assert report.resource("kustannuspaikat").status == "success" and not report.ok
    assert calls_by_route(sim)[("kohteet/{kohde_id}/selaa", 403)] == 1


def test_the_object_sentence_names_the_call_as_sent_for_scopes_and_detail_rows():
    scope = {
        "resource": "kohteet",
        "scope": {"kohde_id": 12},
        "route": "POST kohteet/{kohde_id}/selaa",
        "reason": "403 object right",
    }
    row = {"resource": "ilmoitukset", "id": 55, "route": "GET ilmoitukset/{id}"}
    assert object_refusal_sentence("demo-a", scope) == (
        "account 'demo-a': the API user has no object right (kohdeoikeus) to read the kohteet"
        " under kohde_id 12 (POST kohteet/12/selaa answered 403), so their rows were kept as"
        " they were and reported as skipped."
    )
    assert object_refusal_sentence("demo-a", row) == (
        "account 'demo-a': the API user has no object right (kohdeoikeus) to read ilmoitukset"
        " id 55 (GET ilmoitukset/55 answered 403), so its row was kept as it was and reported"
        " as skipped."
    )
    # Runs recorded before routes were kept in `skipped` still read as a sentence.
    assert "read osapuolet id 7 (403), so its row" in object_refusal_sentence(
        "demo-a", {"resource": "osapuolet", "id": 7, "reason": "403"}
    )
