"""ScopeLoad: exact counts, history versions, freshness guard, scopes and atomicity.

Protects the loader contract the sync engine is built on: one scan is staged (COPY, items
may repeat: last staged wins) and applied in the caller's transaction; only changed rows
are written; every write leaves exactly one history version; deletions are soft and only
for confirmed rows of the scanned scope and account; a rollback leaves no trace.
"""

import threading

import pytest
from sqlalchemy import text

from pipelines.warehouse.loader import LoadCounts, MissingRow, Scope, ScopeLoad

T1 = "2025-04-20T10:00:00.0000000+03:00"
T2 = "2025-04-21T10:00:00.0000000+03:00"
T0 = "2025-04-19T10:00:00.0000000+03:00"


def kohde(id_, cp=100, nimi=None, muokattu=T1, **extra):
    return {"Id": id_, "KustannuspaikkaId": cp, "Nimi": nimi or f"k{id_}", "Muokattu": muokattu,
            **extra}  # fmt: skip


def history(fetch, table="kohteet", account="acc-a"):
    return fetch(
        f"SELECT id, deleted, valid_to IS NULL AS open, data->>'Nimi', run_id"
        f" FROM tampuuri.{table}_history WHERE account = :a ORDER BY id, valid_from, deleted",
        a=account,
    )


def snapshot(fetch):
    return (
        fetch("SELECT * FROM tampuuri.kohteet ORDER BY account, id"),
        fetch("SELECT * FROM tampuuri.kohteet_history ORDER BY account, id, valid_from, deleted"),
    )


def test_insert_update_unchanged_counts_and_history(load, fetch):
    assert load("kohteet", [kohde(1), kohde(2)], [kohde(3)]) == LoadCounts(inserted=3)
    assert history(fetch) == [
        (1, False, True, "k1", "run-1"),
        (2, False, True, "k2", "run-1"),
        (3, False, True, "k3", "run-1"),
    ]
    first = fetch("SELECT id, synced_at, changed_at FROM tampuuri.kohteet ORDER BY id")

    counts = load("kohteet", [kohde(1), kohde(2, nimi="uusi", muokattu=T2), kohde(3)],
                  run_id="run-2")  # fmt: skip
    assert counts == LoadCounts(updated=1, unchanged=2)
    assert history(fetch) == [
        (1, False, True, "k1", "run-1"),
        (2, False, False, "k2", "run-1"),
        (2, False, True, "uusi", "run-2"),
        (3, False, True, "k3", "run-1"),
    ]
    after = fetch("SELECT id, synced_at, changed_at FROM tampuuri.kohteet ORDER BY id")
    assert after[0] == first[0] and after[2] == first[2]  # unchanged rows not rewritten
    assert after[1][2] > first[1][2]
    assert fetch("SELECT nimi, muokattu > '2025-04-20' FROM tampuuri.kohteet WHERE id = 2") == [
        ("uusi", True)
    ]
    # Closed version ends where the new one starts.
    assert fetch(
        "SELECT count(*) FROM tampuuri.kohteet_history a JOIN tampuuri.kohteet_history b"
        " ON a.id = b.id AND a.valid_to = b.valid_from WHERE a.id = 2"
    ) == [(1,)]

    assert load("kohteet", [kohde(1), kohde(2, nimi="uusi", muokattu=T2), kohde(3)],
                run_id="run-3") == LoadCounts(unchanged=3)  # fmt: skip
    assert len(history(fetch)) == 4


def test_duplicates_across_stage_calls_last_staged_wins(load, fetch):
    counts = load(
        "kohteet",
        [kohde(1, nimi="a"), kohde(2)],
        [kohde(1, nimi="b"), kohde(2)],
        [kohde(1, nimi="c")],
    )
    assert counts == LoadCounts(inserted=2)
    assert fetch("SELECT id, nimi FROM tampuuri.kohteet ORDER BY id") == [(1, "c"), (2, "k2")]
    assert history(fetch) == [(1, False, True, "c", "run-1"), (2, False, True, "k2", "run-1")]


def test_freshness_guard_keeps_newer_stored_row(load, fetch):
    load("kohteet", [kohde(1, nimi="new", muokattu=T2), kohde(2, muokattu=T1)])
    counts = load(
        "kohteet",
        [kohde(1, nimi="old", muokattu=T0), kohde(2, nimi="no-time", muokattu=None)],
        run_id="run-2",
    )
    # Row 2: the incoming item has no Muokattu, so the guard cannot judge: it is written.
    assert counts == LoadCounts(updated=1, stale=1)
    assert fetch("SELECT id, nimi FROM tampuuri.kohteet ORDER BY id") == [
        (1, "new"),
        (2, "no-time"),
    ]
    assert [h for h in history(fetch) if h[0] == 1] == [(1, False, True, "new", "run-1")]


def test_table_without_muokattu_has_no_guard(load, fetch):
    load("osapuolet", [{"Id": 1, "Nimi": "a", "Muokattu": T2}])
    counts = load("osapuolet", [{"Id": 1, "Nimi": "b", "Muokattu": T0}], run_id="run-2")
    assert counts == LoadCounts(updated=1)
    assert fetch("SELECT nimi FROM tampuuri.osapuolet") == [("b",)]


def test_missing_respects_scope_and_account(engine, load):
    load("kohteet", [kohde(1, cp=100), kohde(2, cp=100), kohde(3, cp=200)])
    load("kohteet", [kohde(1, cp=100), kohde(2, cp=100)], account="acc-b")
    with engine.begin() as conn:
        scoped = ScopeLoad(conn, "kohteet", account="acc-a", run_id="r",
                           scope=Scope("kustannuspaikka_id", (100,)))  # fmt: skip
        scoped.stage([kohde(1)])
        assert scoped.missing() == [MissingRow(id=2, missing_since=None)]
        whole = ScopeLoad(conn, "kohteet", account="acc-a", run_id="r")
        whole.stage([kohde(1)])
        assert [m.id for m in whole.missing()] == [2, 3]
        nothing = ScopeLoad(conn, "kohteet", account="acc-a", run_id="r",
                            scope=Scope("kustannuspaikka_id", ()))  # fmt: skip
        assert nothing.missing() == []
        by_id = ScopeLoad(conn, "kohteet", account="acc-a", run_id="r", scope=Scope("id", (1, 3)))
        by_id.stage([kohde(1)])
        assert [m.id for m in by_id.missing()] == [3]
    with pytest.raises(KeyError, match="no typed column"), engine.begin() as conn:
        ScopeLoad(conn, "kohteet", account="acc-a", run_id="r", scope=Scope("data", (1,)))


def test_deletes_touch_only_this_account(load, fetch):
    load("kohteet", [kohde(1), kohde(2)])
    load("kohteet", [kohde(1), kohde(2)], account="acc-b")
    counts = load("kohteet", [kohde(1)], run_id="run-2", deleted_ids=[2, 99])
    assert counts == LoadCounts(unchanged=1, deleted=1)
    assert fetch(
        "SELECT account, id, deleted_at IS NOT NULL FROM tampuuri.kohteet ORDER BY account, id"
    ) == [("acc-a", 1, False), ("acc-a", 2, True), ("acc-b", 1, False), ("acc-b", 2, False)]
    assert history(fetch) == [
        (1, False, True, "k1", "run-1"),
        (2, False, False, "k2", "run-1"),
        (2, True, True, "k2", "run-2"),
    ]
    assert len(history(fetch, account="acc-b")) == 2
    # Deleting again is a no-op.
    assert load("kohteet", [kohde(1)], run_id="run-3", deleted_ids=[2]) == LoadCounts(unchanged=1)
    assert len(history(fetch)) == 3


def test_suspect_then_confirmed_delete_then_reappear(engine, load, fetch):
    load("kohteet", [kohde(1), kohde(2)])
    # First complete scan misses row 2: no detail route, so only mark it.
    with engine.begin() as conn:
        scan = ScopeLoad(conn, "kohteet", account="acc-a", run_id="run-2")
        scan.stage([kohde(1)])
        (missing,) = scan.missing()
        assert missing == MissingRow(2, None)
        assert scan.apply(suspect_ids=[missing.id]) == LoadCounts(unchanged=1)
    assert fetch("SELECT id FROM tampuuri.kohteet WHERE missing_since IS NOT NULL") == [(2,)]
    assert len(history(fetch)) == 2  # a suspicion is not a version

    # Second complete scan misses it again: confirmed, deleted.
    with engine.begin() as conn:
        scan = ScopeLoad(conn, "kohteet", account="acc-a", run_id="run-3")
        scan.stage([kohde(1)])
        (missing,) = scan.missing()
        assert missing.id == 2 and missing.missing_since is not None
        assert scan.apply(deleted_ids=[2]) == LoadCounts(unchanged=1, deleted=1)
    with engine.begin() as conn:
        scan = ScopeLoad(conn, "kohteet", account="acc-a", run_id="run-4")
        scan.stage([kohde(1)])
        assert scan.missing() == []  # deleted rows are no longer candidates

    # It comes back unchanged: revived, counted as updated, a new open version.
    assert load("kohteet", [kohde(1), kohde(2)], run_id="run-5") == LoadCounts(
        updated=1, unchanged=1
    )
    assert fetch("SELECT deleted_at, missing_since FROM tampuuri.kohteet WHERE id = 2") == [
        (None, None)
    ]
    assert history(fetch) == [
        (1, False, True, "k1", "run-1"),
        (2, False, False, "k2", "run-1"),
        (2, True, False, "k2", "run-3"),
        (2, False, True, "k2", "run-5"),
    ]


def test_suspect_seen_again_is_cleared_without_rewrite(engine, load, fetch):
    load("kohteet", [kohde(1)])
    load("kohteet", [], run_id="run-2", suspect_ids=[1])
    before = fetch("SELECT synced_at, changed_at FROM tampuuri.kohteet")
    assert load("kohteet", [kohde(1)], run_id="run-3") == LoadCounts(unchanged=1)
    assert fetch("SELECT missing_since FROM tampuuri.kohteet") == [(None,)]
    assert fetch("SELECT synced_at, changed_at FROM tampuuri.kohteet") == before


def test_rollback_leaves_tables_exactly_as_before(engine, load, fetch):
    load("kohteet", [kohde(1), kohde(2), kohde(3)])
    load("kohteet", [], run_id="run-2", suspect_ids=[3])
    before = snapshot(fetch)
    with pytest.raises(RuntimeError, match="boom"), engine.begin() as conn:
        scan = ScopeLoad(conn, "kohteet", account="acc-a", run_id="run-3")
        scan.stage([kohde(1, nimi="changed", muokattu=T2), kohde(4)])
        assert scan.apply(deleted_ids=[2]) == LoadCounts(inserted=1, updated=1, deleted=1)
        raise RuntimeError("boom")
    assert snapshot(fetch) == before
    # The staging table went with the transaction.
    assert fetch("SELECT count(*) FROM pg_class WHERE relname LIKE 'staging_%'") == [(0,)]


def test_bad_id_names_position_and_stages_nothing(engine):
    with engine.begin() as conn:
        scan = ScopeLoad(conn, "kohteet", account="acc-a", run_id="r")
        for bad in ({"Nimi": "no id"}, {"Id": "12"}, {"Id": True}, {"Id": 1.0}):
            with pytest.raises(ValueError, match="position 1"):
                scan.stage([kohde(1), bad])
        assert scan.stage([kohde(1)]) == 1
        assert scan.apply() == LoadCounts(inserted=1)
        with pytest.raises(RuntimeError, match="already applied"):
            scan.stage([kohde(2)])


def test_unknown_fields_kept_and_reported(load, engine, fetch):
    with engine.begin() as conn:
        scan = ScopeLoad(conn, "kohteet", account="acc-a", run_id="r")
        scan.stage([kohde(1, Kerros=3)])
        scan.stage([kohde(2, Hissi=True, Kerros=None)])
        assert scan.new_fields() == ["Hissi", "Kerros"]
        scan.apply()
    assert fetch("SELECT data->'Kerros', data->'Hissi' FROM tampuuri.kohteet ORDER BY id") == [
        (3, None),
        (None, True),
    ]


FREE_TEXT = [
    "O'Brien \"lainaus\" ja 'heittomerkki'",
    "C:\\polku\\n ei rivinvaihto \\\\ kaksi \\t",
    "a;b; DROP TABLE tampuuri.kohteet; --",
    "'); DELETE FROM ops.sync_runs; --",
    "tab\there\nnewline\r\nCRLF",
    "emoji 🏠🔧 ja ääkköset ÅÄÖ",
    "%(account)s {plan} $1 :name",
    "\\u0000 literally, not a NUL",
]


def test_free_text_stored_verbatim(load, fetch):
    items = [kohde(i, nimi=s, **{"Lisätiedot": s}) for i, s in enumerate(FREE_TEXT, start=1)]
    assert load("kohteet", items) == LoadCounts(inserted=len(FREE_TEXT))
    stored = fetch("SELECT nimi, lisatiedot, data FROM tampuuri.kohteet ORDER BY id")
    assert [(n, lt) for n, lt, _ in stored] == [(s, s) for s in FREE_TEXT]
    assert [d for _, _, d in stored] == items
    assert fetch("SELECT count(*) FROM ops.sync_runs") == [(0,)]
    assert load("kohteet", items, run_id="run-2") == LoadCounts(unchanged=len(FREE_TEXT))


def test_nul_character_is_replaced_not_fatal(load, fetch):
    assert load("kohteet", [kohde(1, nimi="a\x00b")]) == LoadCounts(inserted=1)
    assert fetch("SELECT nimi FROM tampuuri.kohteet") == [("a\ufffdb",)]


def test_two_loads_of_one_table_in_one_transaction(engine, fetch):
    with engine.begin() as conn:
        first = ScopeLoad(conn, "osapuolet", account="acc-a", run_id="r")
        second = ScopeLoad(conn, "osapuolet", account="acc-a", run_id="r")
        first.stage([{"Id": 1, "Nimi": "a"}])
        second.stage([{"Id": 1, "Nimi": "b"}, {"Id": 2}])
        assert first.apply() == LoadCounts(inserted=1)
        assert second.apply() == LoadCounts(inserted=1, updated=1)
    assert fetch("SELECT id, nimi FROM tampuuri.osapuolet ORDER BY id") == [(1, "b"), (2, None)]
    assert fetch(
        "SELECT id, count(*), count(*) FILTER (WHERE valid_to IS NULL)"
        " FROM tampuuri.osapuolet_history GROUP BY id ORDER BY id"
    ) == [(1, 2, 1), (2, 1, 1)]
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM tampuuri.osapuolet")).scalar() == 2


def test_concurrent_loads_of_one_table_are_serialised(engine, fetch):
    """A second load's apply waits for the first to commit, then sees its rows."""
    items = [kohde(1), kohde(2)]
    results = {}

    def second():
        with engine.begin() as conn:
            scan = ScopeLoad(conn, "kohteet", account="acc-a", run_id="run-2")
            scan.stage(items)
            results["second"] = scan.apply()

    with engine.begin() as conn:
        first = ScopeLoad(conn, "kohteet", account="acc-a", run_id="run-1")
        first.stage(items)
        assert first.apply() == LoadCounts(inserted=2)
        thread = threading.Thread(target=second)
        thread.start()
        thread.join(timeout=0.5)
        assert thread.is_alive()  # blocked on the first load until it commits
    thread.join(timeout=30)
    assert results["second"] == LoadCounts(unchanged=2)
    assert len(history(fetch)) == 2
