"""Free text from the API is stored verbatim, whatever it looks like.

Protects the loader's promise that values travel as data, never as SQL: notice titles and
descriptions holding quotes, semicolons, SQL-looking strings, backslashes, COPY's own
special characters (tabs, newlines, `\\N`), emoji and very long strings reach both
`data` (jsonb) and the typed columns unchanged, on insert and on update, and the SQL they
contain never runs (the tables they name still hold their rows). The one documented
exception: NUL, which jsonb cannot hold, arrives as U+FFFD.
"""

from __future__ import annotations

import dataclasses

import httpx
from sqlalchemy import text

from pipelines.settings import load_sync_settings
from pipelines.simulator import Simulator, SimulatorConfig
from pipelines.sync.engine import SyncRequest, run_sync
from tests.sync.helpers import account_for, assert_parity

ACCOUNT = "demo-a"
NASTY = (
    "'); DROP TABLE tampuuri.kohteet; --",
    "Robert'); DELETE FROM ops.sync_runs WHERE ('1'='1",
    "lainaus \"kaksois\" ja 'yksittäis' ; ; ;",
    "C:\\polku\\kansio\\n ei rivinvaihto \\\\ kaksi",
    "\\N",
    "tab\there\nnewline\r\nCRLF",
    "$$ dollar $tag$ quoting $$",
    "E'\\x41' || chr(65) /* kommentti */",
    "🏠🔧💧 vuotaa! ÅÄÖ åäö ẞ 漢字",
    "%s %(x)s {0} :param ?",
    "x" * 100_000,
)
FAST = dataclasses.replace(load_sync_settings(), backoff_initial_s=0.001, backoff_max_s=0.01)


def _sync(engine, sim: Simulator, *, full: bool) -> None:
    account, environ = account_for(sim, ACCOUNT)
    report = run_sync(
        engine,
        SyncRequest(account, full=full),
        transport=httpx.ASGITransport(app=sim.app),
        environ=environ,
        settings=FAST,
    )
    assert report.ok, [r.error for r in report.resources]


def _stored(engine, ids: list[int]) -> dict[int, tuple[str, ...]]:
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT id, data->>'Otsikko', otsikko, data->>'TyotehtavanKuvaus',"
                " tyotehtavan_kuvaus FROM tampuuri.ilmoitukset"
                " WHERE account = :a AND id = ANY(:ids)"
            ),
            {"a": ACCOUNT, "ids": ids},
        ).all()
    return {row[0]: tuple(row[1:]) for row in rows}


def _count(engine, table: str) -> int:
    with engine.connect() as conn:  # table names from this module's literals only
        return conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one()


def test_hostile_free_text_is_stored_verbatim_on_insert_and_update(engine):
    sim = Simulator(SimulatorConfig(seed=2, scale=300, accounts=(ACCOUNT,)))
    _sync(engine, sim, full=True)
    objects = _count(engine, "tampuuri.kohteet")
    assert objects == len(sim.items(ACCOUNT, "kohteet")) > 0

    inserted = {
        sim.apply_change(
            ACCOUNT,
            "ilmoitukset",
            "insert",
            fields={"Otsikko": value, "TyotehtavanKuvaus": value[::-1]},
        ).id: value
        for value in NASTY
    }
    # The one documented exception (loader.py): jsonb cannot hold NUL, so it becomes U+FFFD
    # instead of failing the whole scan.
    nul = sim.apply_change(
        ACCOUNT, "ilmoitukset", "insert", fields={"Otsikko": "a\x00b", "TyotehtavanKuvaus": "\x00"}
    ).id
    _sync(engine, sim, full=False)
    assert _stored(engine, [nul])[nul] == ("a\ufffdb", "a\ufffdb", "\ufffd", "\ufffd")
    stored = _stored(engine, list(inserted))
    assert len(stored) == len(NASTY)
    for row_id, value in inserted.items():
        assert stored[row_id] == (value, value, value[::-1], value[::-1]), row_id

    # Updates take the other branch of the upsert (hash changed), and write history.
    existing = [n["Id"] for n in sim.items(ACCOUNT, "ilmoitukset")[: len(NASTY)]]
    for row_id, value in zip(existing, NASTY, strict=True):
        sim.apply_change(
            ACCOUNT,
            "ilmoitukset",
            "update",
            id=row_id,
            fields={"Otsikko": value[::-1], "TyotehtavanKuvaus": value},
        )
    _sync(engine, sim, full=True)
    stored = _stored(engine, existing)
    for row_id, value in zip(existing, NASTY, strict=True):
        assert stored[row_id] == (value[::-1], value[::-1], value, value), row_id

    with engine.connect() as conn:
        closed = conn.execute(
            text(
                "SELECT count(*) FROM tampuuri.ilmoitukset_history"
                " WHERE account = :a AND id = ANY(:ids) AND valid_to IS NOT NULL"
            ),
            {"a": ACCOUNT, "ids": existing},
        ).scalar_one()
    assert closed == len(NASTY)  # each updated notice closed exactly one old version
    # The SQL in the text never ran: the tables it names keep every row.
    assert _count(engine, "tampuuri.kohteet") == objects
    assert _count(engine, "ops.sync_runs") == 3 * 4
    sim.apply_change(ACCOUNT, "ilmoitukset", "delete", id=nul)  # not verbatim by design
    _sync(engine, sim, full=True)
    assert_parity(engine, sim, ACCOUNT)
