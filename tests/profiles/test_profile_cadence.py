"""The sweep looks at each account-wide list on its profile's cadence: on a night no list
is due it probes none (only the nightly share of objects is read); on a night all are due
it probes each (against the simulator)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

from pipelines.settings import AccountConfig
from pipelines.sync.reconcile import PROBED, reconcile_account
from tests.refresh.conftest import FAST

from .deployment import FRUGAL, Deployment

WEEKLY = {"kustannuspaikat": 7, "osapuolet": 7, "ilmoitukset": 7}


def _night(ordinal: int) -> datetime:
    local = datetime.combine(date.fromordinal(ordinal), time(4, 30), ZoneInfo("Europe/Helsinki"))
    return local.astimezone(UTC)


def _weekly(account: AccountConfig) -> AccountConfig:
    document = account.model_dump(mode="json", exclude={"budget", "profile_overrides"})
    return AccountConfig.model_validate(
        {**document, "profile_overrides": {"reconcile_every_days": WEEKLY}}
    )


def test_the_sweep_probes_only_the_lists_due_tonight(deployment: Deployment):
    account = _weekly(deployment.accounts[FRUGAL])
    today = datetime.now(UTC).date().toordinal()
    due = today - today % 7  # a night whose date counts a multiple of 7 days
    sweep = dict(
        transport=deployment.transport, environ=deployment.environ, settings=FAST, allowance=0
    )

    quiet = reconcile_account(deployment.engine, account, now=_night(due + 3), **sweep)
    assert quiet.ok and quiet.totals == {} and quiet.incremental == []
    # Only the nightly share of cost centres' objects (full_scan_period_days) was read.
    routes = {row["route"] for row in deployment.sim.transactions(FRUGAL)}
    assert all(route.startswith("kohteet") for route in routes), routes
    assert deployment.sim.counter.total(FRUGAL) == len(quiet.cost_centres) <= 1
    deployment.sim.counter.reset()

    looked = reconcile_account(deployment.engine, account, now=_night(due), **sweep)
    assert looked.ok and sorted(looked.totals) == sorted(PROBED)
    assert all(api == ours for api, ours in looked.totals.values())  # nothing drifted
    # Three probes, the two change-since incrementals, the night's share of objects.
    assert looked.incremental == ["kustannuspaikat", "ilmoitukset"]
    calls = {(r["method"], r["route"]): r["count"] for r in deployment.sim.transactions(FRUGAL)}
    assert calls == {
        ("GET", "kustannuspaikat/selaa"): 2,
        ("GET", "osapuolet/yhteydet/selaa"): 1,
        ("GET", "ilmoitukset/selaa"): 2,
        ("POST", "kohteet/{kohde_id}/selaa"): len(looked.cost_centres),
    }
