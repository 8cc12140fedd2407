"""ScopeLoad's fast paths for new rows: the same rows, counts and history as the plan.

A load whose staged ids are none of them stored skips the plan (apply-time check under
the table lock); a streaming load (`stream=True`, the sync's account-wide lists) writes
pages as they arrive when the account has no row in the table yet. Drift re-passes repeat
ids within one load: the last staged copy must win and leave ONE history version.
"""

import threading
from unittest import mock

import psycopg
from psycopg import sql
from sqlalchemy import text

from pipelines.warehouse import loader
from pipelines.warehouse.loader import LoadCounts, ScopeLoad
from tests.warehouse.test_loader import T2, history, kohde


def stream_load(engine, table, *pages, account="acc-a", run_id="run-1", probe=None):
    """Stage pages into a streaming load and apply; `probe(conn, load)` runs before apply."""
    with engine.begin() as conn:
        load = ScopeLoad(conn, table, account=account, run_id=run_id, stream=True)
        for page in pages:
            load.stage(page)
        if probe is not None:
            probe(conn, load)
        return load.apply()


def versions(fetch, table="kohteet"):
    return fetch(
        f"SELECT id, count(*), count(*) FILTER (WHERE valid_to IS NULL)"
        f" FROM tampuuri.{table}_history GROUP BY id ORDER BY id"
    )


def test_first_load_with_ids_repeated_across_pages(load, fetch):
    pages = ([kohde(1, nimi="a"), kohde(2)], [kohde(3), kohde(1, nimi="b")], [kohde(1, nimi="c")])
    assert load("kohteet", *pages) == LoadCounts(inserted=3)
    assert fetch("SELECT id, nimi FROM tampuuri.kohteet ORDER BY id") == [
        (1, "c"), (2, "k2"), (3, "k3"),
    ]  # fmt: skip
    assert versions(fetch) == [(1, 1, 1), (2, 1, 1), (3, 1, 1)]


def test_streaming_first_load_writes_chunks_as_pages_arrive(engine, fetch):
    """Repeats within a chunk and across chunks (a drift re-pass) keep one version each."""
    seen = {}

    def probe(conn, load):
        seen["missing"] = load.missing()
        seen["stored"] = conn.execute(text("SELECT count(*) FROM tampuuri.kohteet")).scalar()

    pages = (
        [kohde(1, nimi="a"), kohde(2), kohde(1, nimi="b")],  # a repeat within one page
        [kohde(3), kohde(4)],
        [kohde(2, nimi="again", muokattu=T2), kohde(5)],  # the re-pass: ids 1-5 again
        [kohde(1, nimi="last"), kohde(3), kohde(4)],
    )
    with mock.patch.object(loader, "STREAM_ROWS", 2):  # a write every page or two
        counts = stream_load(engine, "kohteet", *pages, probe=probe)
    assert counts == LoadCounts(inserted=5)
    assert seen == {"missing": [], "stored": 5}  # written before apply
    assert fetch("SELECT id, nimi, muokattu > '2025-04-20T12:00+03' FROM tampuuri.kohteet"
                 " ORDER BY id") == [
        (1, "last", False), (2, "again", True), (3, "k3", False), (4, "k4", False),
        (5, "k5", False),
    ]  # fmt: skip
    assert versions(fetch) == [(i, 1, 1) for i in range(1, 6)]
    assert fetch(
        "SELECT count(*) FROM tampuuri.kohteet_history h JOIN tampuuri.kohteet t"
        " USING (account, id) WHERE h.row_hash = t.row_hash AND h.data = t.data"
        " AND h.run_id = 'run-1' AND NOT h.deleted"
    ) == [(5,)]


def test_streaming_load_of_a_stored_account_uses_the_plan(engine, load, fetch):
    load("kohteet", [kohde(1), kohde(2)])
    load("kohteet", [kohde(7)], account="acc-b")  # another account's rows do not count
    seen = {}

    def probe(conn, load):
        seen["missing"] = [m.id for m in load.missing()]
        seen["stored"] = conn.execute(
            text("SELECT count(*) FROM tampuuri.kohteet WHERE account = 'acc-a'")
        ).scalar()

    counts = stream_load(engine, "kohteet", [kohde(1, nimi="x", muokattu=T2), kohde(3)],
                         run_id="run-2", probe=probe)  # fmt: skip
    assert seen == {"missing": [2], "stored": 2}  # nothing written before apply
    assert counts == LoadCounts(inserted=1, updated=1)
    assert versions(fetch) == [(1, 2, 1), (2, 1, 1), (3, 1, 1), (7, 1, 1)]
    assert stream_load(engine, "kohteet", [kohde(7)], account="acc-b", run_id="run-3") == (
        LoadCounts(unchanged=1)
    )


def test_new_ids_in_a_stored_table_skip_the_plan_and_keep_the_rest(load, fetch):
    """A second cost centre's first load: staged ids are all new, stored rows untouched."""
    load("kohteet", [kohde(1, cp=100), kohde(2, cp=100)])
    before = fetch("SELECT * FROM tampuuri.kohteet WHERE id IN (1, 2) ORDER BY id")
    counts = load("kohteet", [kohde(3, cp=200), kohde(4, cp=200)], [kohde(3, cp=200, nimi="z")],
                  run_id="run-2", deleted_ids=[2])  # fmt: skip
    assert counts == LoadCounts(inserted=2, deleted=1)
    assert fetch("SELECT * FROM tampuuri.kohteet WHERE id = 1") == before[:1]
    assert history(fetch) == [
        (1, False, True, "k1", "run-1"),
        (2, False, False, "k2", "run-1"),
        (2, True, True, "k2", "run-2"),
        (3, False, True, "z", "run-2"),
        (4, False, True, "k4", "run-2"),
    ]


def test_streaming_load_holds_the_table_lock_from_its_first_page(engine, fetch):
    """A refresh meeting a streaming first load waits for it, then sees its rows."""
    results = {}

    def refresh():
        with engine.begin() as conn:
            other = ScopeLoad(conn, "kohteet", account="acc-a", run_id="run-2")
            other.stage([kohde(1, nimi="refreshed", muokattu=T2)])
            results["refresh"] = other.apply()

    with engine.begin() as conn:
        first = ScopeLoad(conn, "kohteet", account="acc-a", run_id="run-1", stream=True)
        first.stage([kohde(1), kohde(2)])
        thread = threading.Thread(target=refresh)
        thread.start()
        thread.join(timeout=0.5)
        assert thread.is_alive()  # blocked: the streaming load holds the lock
        assert first.apply() == LoadCounts(inserted=2)
    thread.join(timeout=30)
    assert results["refresh"] == LoadCounts(updated=1)
    assert versions(fetch) == [(1, 2, 1), (2, 1, 1)]


def executed_statements(engine, table, *pages, stream_rows):
    """Stream pages into a first load; return the SQL it ran (as strings) and its counts."""
    statements = []
    real_execute = psycopg.Cursor.execute

    def execute(cursor, query, *args, **kwargs):
        statements.append(query.as_string(cursor) if isinstance(query, sql.Composable) else query)
        return real_execute(cursor, query, *args, **kwargs)

    with (
        mock.patch.object(loader, "STREAM_ROWS", stream_rows),
        mock.patch.object(psycopg.Cursor, "execute", execute),
    ):
        counts = stream_load(engine, table, *pages)
    return statements, counts


def test_streamed_pages_in_completion_order_skip_the_repeat_checks(engine, fetch):
    """Pages land out of offset order; their ids neither repeat nor meet written ones."""
    pages = ([kohde(5), kohde(6)], [kohde(1), kohde(2)], [kohde(9)], [kohde(3), kohde(4)])
    statements, counts = executed_statements(engine, "kohteet", *pages, stream_rows=2)
    assert counts == LoadCounts(inserted=7)
    assert not [s for s in statements if "Whether any staged id" in s]  # no key probe
    assert not [s for s in statements if "DISTINCT ON" in s]  # no sort for the last copy
    assert sum('INSERT INTO "tampuuri"."kohteet"' in s for s in statements) == 3
    assert versions(fetch) == [(i, 1, 1) for i in (1, 2, 3, 4, 5, 6, 9)]


def test_a_page_overlapping_written_ids_gets_the_exact_checks(engine, fetch):
    """1..9 is written first; 4..5 may repeat (it does not): probed, still plain inserts."""
    pages = ([kohde(1), kohde(9)], [kohde(4), kohde(5)], [kohde(7), kohde(7, nimi="last")])
    statements, counts = executed_statements(engine, "kohteet", *pages, stream_rows=1)
    assert counts == LoadCounts(inserted=5)
    assert sum("Whether any staged id" in s for s in statements) == 2  # the 2nd and 3rd writes
    assert sum("DISTINCT ON" in s for s in statements) == 2  # the 3rd write's rows, versions
    assert fetch("SELECT id, nimi FROM tampuuri.kohteet ORDER BY id") == [
        (1, "k1"), (4, "k4"), (5, "k5"), (7, "last"), (9, "k9"),
    ]  # fmt: skip
    assert versions(fetch) == [(i, 1, 1) for i in (1, 4, 5, 7, 9)]
