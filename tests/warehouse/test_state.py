"""ops.sync_runs and ops.sync_state: run rows survive a failed data transaction, and the
change-since cursor never moves backwards (nor at all on a failed scan).
"""

from datetime import UTC, datetime, timedelta

import pytest

from pipelines.warehouse import state
from pipelines.warehouse.loader import LoadCounts, ScopeLoad

T = datetime(2025, 4, 20, 10, 0, tzinfo=UTC)


def test_run_started_and_finished(engine, fetch):
    with engine.begin() as conn:
        state.start_run(conn, run_id="r1", account="a", resource="kohteet", trigger="nightly",
                        mode="full")  # fmt: skip
    assert fetch("SELECT status, finished_at FROM ops.sync_runs") == [("running", None)]
    with engine.begin() as conn:
        state.finish_run(
            conn, run_id="r1", account="a", resource="kohteet", status="partial",
            counts=LoadCounts(inserted=5, updated=4, unchanged=3, deleted=2, stale=1),
            pages=7, calls=9, retries=1, skipped=[{"resource": "kohteet", "id": 12}],
            new_fields=["Kerros", "Hissi", "Kerros"], error=None,
        )  # fmt: skip
    assert fetch(
        "SELECT trigger, mode, status, inserted, updated, unchanged, deleted, stale, pages,"
        " calls, retries, skipped, new_fields, error, finished_at >= started_at"
        " FROM ops.sync_runs"
    ) == [("nightly", "full", "partial", 5, 4, 3, 2, 1, 7, 9, 1,
           [{"resource": "kohteet", "id": 12}], ["Hissi", "Kerros"], None, True)]  # fmt: skip
    with engine.connect() as conn:
        assert state.last_success(conn, "a", "kohteet") is None


def test_failed_run_row_survives_the_data_rollback(engine, fetch):
    with engine.begin() as conn:
        state.start_run(conn, run_id="r1", account="a", resource="kohteet", trigger="manual",
                        mode="full")  # fmt: skip
    with pytest.raises(RuntimeError), engine.begin() as conn:
        load = ScopeLoad(conn, "kohteet", account="a", run_id="r1")
        load.stage([{"Id": 1}])
        load.apply()
        state.save_scope_state(conn, account="a", resource="kohteet", cursor=T, total=1,
                               full_scan=True, success=True)  # fmt: skip
        raise RuntimeError("API failed")
    with engine.begin() as conn:
        state.finish_run(conn, run_id="r1", account="a", resource="kohteet", status="failed",
                         counts=LoadCounts(), pages=1, calls=2, retries=0, skipped=[],
                         new_fields=[], error="x" * 10_000)  # fmt: skip
    assert fetch("SELECT status, length(error) FROM ops.sync_runs") == [
        ("failed", state.MAX_ERROR_CHARS)
    ]
    assert fetch("SELECT count(*) FROM tampuuri.kohteet") == [(0,)]
    assert fetch("SELECT count(*) FROM ops.sync_state") == [(0,)]


def test_last_success_is_latest_successful_run(engine):
    with engine.begin() as conn:
        for run_id, status in (("r1", "success"), ("r2", "failed")):
            state.finish_run(conn, run_id=run_id, account="a", resource="kohteet", status=status,
                             counts=LoadCounts(), pages=0, calls=0, retries=0, skipped=[],
                             new_fields=[], error=None)  # fmt: skip
    with engine.connect() as conn:
        assert state.last_success(conn, "a", "kohteet") is not None
        assert state.last_success(conn, "b", "kohteet") is None


def test_cursor_never_moves_backwards(engine):
    def save(**kwargs):
        with engine.begin() as conn:
            state.save_scope_state(conn, account="a", resource="ilmoitukset", **kwargs)

    with engine.connect() as conn:
        assert state.get_cursor(conn, "a", "ilmoitukset") is None
    save(cursor=T, total=10, full_scan=True, success=True)
    save(cursor=T - timedelta(days=1), total=None, full_scan=False, success=True)
    save(cursor=None, total=None, full_scan=False, success=True)
    save(cursor=T + timedelta(days=5), total=11, full_scan=False, success=False)
    with engine.connect() as conn:
        assert state.get_cursor(conn, "a", "ilmoitukset") == T
        (only,) = state.scope_states(conn, "a", "ilmoitukset").values()
    assert (only.scope, only.cursor, only.last_total) == ("", T, 11)
    assert only.last_full_scan_at is not None and only.last_success_at is not None

    save(cursor=T + timedelta(hours=1), total=None, full_scan=False, success=True)
    with engine.connect() as conn:
        assert state.get_cursor(conn, "a", "ilmoitukset") == T + timedelta(hours=1)
        assert state.get_cursor(conn, "b", "ilmoitukset") is None


def test_scope_states_per_cost_centre(engine):
    with engine.begin() as conn:
        state.save_scope_state(conn, account="a", resource="kohteet", scope="100", total=3,
                               full_scan=True, success=True)  # fmt: skip
        state.save_scope_state(conn, account="a", resource="kohteet", scope="200", total=None,
                               full_scan=False, success=False)  # fmt: skip
        state.save_scope_state(conn, account="b", resource="kohteet", scope="300", total=1,
                               full_scan=True, success=True)  # fmt: skip
    with engine.connect() as conn:
        states = state.scope_states(conn, "a", "kohteet")
    assert sorted(states) == ["100", "200"]
    assert states["100"].last_total == 3 and states["100"].last_success_at is not None
    assert states["200"].last_success_at is None and states["200"].last_full_scan_at is None
