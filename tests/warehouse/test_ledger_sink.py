"""LedgerSink writes every CallRecord to ops.api_calls in one transaction, failures too."""

from datetime import UTC, datetime, timedelta

from pipelines.tampuuri.ledger import CallRecord
from pipelines.warehouse.ledger_sink import LedgerSink

T = datetime(2025, 4, 20, 7, 0, tzinfo=UTC)


def record(i, status=200, run_id="r1"):
    return CallRecord(account="a", sent_at=T + timedelta(seconds=i), method="GET",
                      route="kohteet/{kohde_id}", status=status, duration_ms=12 + i,
                      trigger="nightly", run_id=run_id)  # fmt: skip


def test_records_written_exactly(engine, fetch):
    sink = LedgerSink(engine)
    sink([record(0), record(1, status=None), record(2, status=503, run_id=None)])
    sink([])
    sink([record(i) for i in range(3, 1003)])
    assert fetch("SELECT count(*), count(*) FILTER (WHERE status IS NULL) FROM ops.api_calls") == [
        (1003, 1)
    ]
    assert fetch(
        "SELECT account, sent_at, method, route, status, duration_ms, trigger, run_id"
        " FROM ops.api_calls ORDER BY call_id LIMIT 3"
    ) == [
        ("a", T, "GET", "kohteet/{kohde_id}", 200, 12, "nightly", "r1"),
        ("a", T + timedelta(seconds=1), "GET", "kohteet/{kohde_id}", None, 13, "nightly", "r1"),
        ("a", T + timedelta(seconds=2), "GET", "kohteet/{kohde_id}", 503, 14, "nightly", None),
    ]
