"""Writes call records to `ops.api_calls`: the sink behind `tampuuri.ledger.CallLedger`.

Tampuuri bills every call, failed ones too, so every record is kept. A flush is one COPY
in its own short transaction, independent of any data transaction: calls were spent even
when the scan that spent them rolls back.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Engine

from pipelines.tampuuri.ledger import CallRecord

_COPY = (
    "COPY ops.api_calls (account, sent_at, method, route, status, duration_ms, trigger, run_id)"
    " FROM STDIN"
)


class LedgerSink:
    """A callable that appends call records to ops.api_calls.

    Args:
        engine: the warehouse engine; each call borrows one connection briefly.
    """

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def __call__(self, records: Sequence[CallRecord]) -> None:
        """Write the records in one COPY and commit (nothing to write: no transaction)."""
        if not records:
            return
        with self._engine.begin() as conn:
            raw: Any = conn.connection.driver_connection
            with raw.cursor() as cursor, cursor.copy(_COPY) as copy:
                for record in records:
                    copy.write_row(
                        (
                            record.account,
                            record.sent_at,
                            record.method,
                            record.route,
                            record.status,
                            # The column is whole milliseconds; clocks give fractions.
                            round(record.duration_ms),
                            record.trigger,
                            record.run_id,
                        )
                    )
