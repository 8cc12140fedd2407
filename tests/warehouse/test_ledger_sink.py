"""LedgerSink writes the call ledger ahead into ops.api_calls (real PostgreSQL).

- `admit` commits one row per call before the call is sent (status and duration NULL,
  visible to every other connection at once) and returns their ids in order;
- `settle` fills in answers (status NULL with a duration: no response) and deletes the
  rows of calls that were retracted, in one statement;
- the sink's connection is its own (outside the engine's pool); a broken connection fails
  one write and the next write opens a new one.
"""

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

from pipelines.tampuuri.ledger import Answer, CallRecord
from pipelines.warehouse.ledger_sink import ID_BLOCK, LedgerSink

T = datetime(2025, 4, 20, 7, 0, tzinfo=UTC)


def record(i, run_id="r1"):
    return CallRecord(account="a", sent_at=T + timedelta(seconds=i), method="GET",
                      route="kohteet/{kohde_id}", status=None, duration_ms=None,
                      trigger="nightly", run_id=run_id)  # fmt: skip


def test_admitted_rows_are_committed_then_answered_and_retracted(engine, fetch):
    sink = LedgerSink(engine)
    ids = sink.admit([record(0), record(1), record(2, run_id=None)])
    assert sink.admit([]) == []
    # Committed before any answer: another connection counts them as calls.
    assert fetch("SELECT call_id, status, duration_ms FROM ops.api_calls ORDER BY call_id") == [
        (ids[0], None, None),
        (ids[1], None, None),
        (ids[2], None, None),
    ]
    sink.settle([Answer(ids[0], 200, 12), Answer(ids[2], None, 30_000)], [ids[1]])
    sink.settle([], [])
    assert fetch(
        "SELECT call_id, account, sent_at, method, route, status, duration_ms, trigger, run_id"
        " FROM ops.api_calls ORDER BY call_id"
    ) == [
        (ids[0], "a", T, "GET", "kohteet/{kohde_id}", 200, 12, "nightly", "r1"),
        (ids[2], "a", T + timedelta(seconds=2), "GET", "kohteet/{kohde_id}", None, 30_000,
         "nightly", None),
    ]  # fmt: skip
    sink.close()


def test_ids_follow_the_records_across_id_blocks(engine, fetch):
    sink = LedgerSink(engine)
    first = sink.admit([record(i) for i in range(ID_BLOCK - 1)])
    more = sink.admit([record(i) for i in range(ID_BLOCK - 1, ID_BLOCK + 1000)])
    ids = first + more
    assert len(set(ids)) == len(ids) == ID_BLOCK + 1000
    rows = dict(fetch("SELECT call_id, sent_at FROM ops.api_calls"))
    assert [rows[i] for i in ids] == [T + timedelta(seconds=i) for i in range(len(ids))]
    sink.settle([Answer(i, 200, n) for n, i in enumerate(ids)])
    durations = dict(fetch("SELECT call_id, duration_ms FROM ops.api_calls"))
    assert [durations[i] for i in ids] == list(range(len(ids)))
    sink.close()


def test_a_broken_connection_fails_one_write_and_the_next_reconnects(engine, fetch):
    sink = LedgerSink(engine)
    sink.admit([record(0)])
    with engine.connect() as conn:  # the sink's connection is not one of the pool's
        assert engine.pool.checkedout() == 1
        conn.execute(
            text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        )
    with pytest.raises(Exception, match=r"terminat|closed|connection"):
        sink.admit([record(1)])
    sink.admit([record(2)])
    assert fetch("SELECT sent_at FROM ops.api_calls ORDER BY call_id") == [
        (T,),
        (T + timedelta(seconds=2),),
    ]
    sink.close()
    sink.close()
