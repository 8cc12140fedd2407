"""Loading one scan of one scope: COPY into staging, then one set-based upsert with history.

A `ScopeLoad` lives inside the caller's transaction (`with engine.begin() as conn:`):

1. `__init__` creates a temp staging table (ON COMMIT DROP) for this load;
2. `stage(items)` COPYs each page as it arrives (the hot path: no per-row statements, and
   nothing of the resource is kept in Python, so memory stays flat);
3. after a complete scan, `missing()` lists active rows of the scope that were not seen, and
   the caller confirms them (404, batch route or a second scan);
4. `apply(deleted_ids=..., suspect_ids=...)` writes everything in a few set-based
   statements and returns exact counts.

Two fast paths write new rows without planning against stored ones (`insert_new_*.sql`):
when none of the staged ids is stored (checked under the table lock at apply: a first
load), and, for a load made with `stream=True`, a few pages at a time while the scan runs
when the account has no row in the table at all (the first load of an account-wide list:
the database work then overlaps the HTTP fetching instead of following it).

The caller commits staging, rows, history, child rows and the cursor (state.py) together,
or rolls all back. The parts: staging.py (the temp table, COPY), upsert.py (new rows, the
plan and upsert, history), children.py (child tables), deletions.py (missing rows, soft
deletes, suspects), load_sql.py (names, templates of `sql/loader/`), load_types.py (Scope,
MissingRow, LoadCounts); how an item becomes a COPY line is `encoding.py`.

History: every insert or change closes the row's open version (valid_to = now()) and opens
a new one. A soft delete closes the open version and opens a final one with deleted = true
and valid_to NULL, so the current history version of a deleted row says "deleted". A row
that comes back closes that marker like any other version.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from typing import Any

from psycopg import sql
from sqlalchemy import Connection

from pipelines.warehouse.deletions import mark_suspects, missing_rows, soft_delete
from pipelines.warehouse.encoding import EncodedPage, encode_page
from pipelines.warehouse.id_spans import WrittenSpans
from pipelines.warehouse.load_sql import SCHEMA, SQL_DIR, LoadTarget
from pipelines.warehouse.load_types import LoadCounts, MissingRow, Scope
from pipelines.warehouse.staging import Staging, with_fan_out
from pipelines.warehouse.tables import TABLES, TableSpec
from pipelines.warehouse.upsert import insert_new, plan_and_write

__all__ = [
    "SCHEMA",
    "SQL_DIR",
    "STREAM_ROWS",
    "LoadCounts",
    "MissingRow",
    "Scope",
    "ScopeLoad",
]

# A streaming load writes staging out once it holds this many rows: per row, a few pages
# per statement cost about what one set-based write of everything does, and small writes
# overlap the fetching sooner (a 10k-row account's link list: 5,000 wrote it all at the
# end; 1,000 took its full sync from ~0.47 to ~0.44 s, with 100k and 1M unchanged).
STREAM_ROWS = 1000
# A unique suffix per load: one transaction (one session's temp tables) may hold several
# loads, even of the same table.
_load_numbers = itertools.count(1)
_ACCOUNT_WIDE = Scope(None)


class ScopeLoad:
    """One scan of one scope of one table, staged and applied in the caller's transaction."""

    def __init__(
        self,
        conn: Connection,
        table: str | TableSpec,
        *,
        account: str,
        run_id: str,
        scope: Scope = _ACCOUNT_WIDE,
        disjoint: bool = False,
        stream: bool = False,
    ) -> None:
        """Create the temp staging table (dropped at commit or rollback).

        Args:
            conn: a connection inside the caller's transaction.
            table: a key of `tables.TABLES`, or a TableSpec itself.
            account: the account the rows belong to.
            run_id: recorded on every history version written.
            scope: which stored rows a complete scan speaks for (see `missing`).
            disjoint: this load is one of several concurrent loads of one run whose rows
                do not overlap (the cost-centre batches of a fan-out scan): they share the
                table's lock instead of taking turns; any other load waits for them all.
            stream: write rows as they are staged when the account has no row in the table
                yet (never with `disjoint`). The table lock is then held from the first
                page to commit, and the load must be the only one of its table in the
                transaction (`missing()` relies on every stored row being its own).

        Raises:
            KeyError: unknown table or scope column.
        """
        self.spec: TableSpec = table if isinstance(table, TableSpec) else TABLES[table]
        if scope.column not in (None, "id"):
            self.spec.column(scope.column)  # KeyError names the table and column
        self.account = account
        self.run_id = run_id
        self.scope = scope
        self._disjoint = disjoint
        self._target = LoadTarget.of(
            self.spec, account=account, run_id=run_id, number=next(_load_numbers)
        )
        self._keys: set[str] = set()
        self._applied = False
        self._stream = stream and not disjoint
        # None: not decided yet (streaming starts, or not, with the first staged rows).
        self._streaming: bool | None = None if self._stream else False
        self._streamed = 0  # rows inserted so far while streaming
        self._written_spans = WrittenSpans()  # the ids a streaming load has written
        raw = conn.connection.driver_connection
        assert raw is not None
        self._raw: Any = raw
        with raw.cursor() as cursor:
            self._staging = Staging(cursor, self._target)

    def encode(
        self, items: Sequence[Mapping[str, Any]], *, fan_out_id: int | None = None
    ) -> EncodedPage:
        """Validate and encode items for `stage` (`encoding.encode_page`).

        Pure CPU, no database: a caller may encode the next page while the connection is
        still busy with the previous one.

        Args:
            fan_out_id: for a table with a `fan_out` column, the id the page's list was
                called for (the cost centre of a per-cost-centre list); else None.

        Raises:
            ValueError: as `encoding.encode_page`; a fan_out_id for a table without a
                fan_out column.
        """
        return with_fan_out(encode_page(self.spec, items), self.spec, fan_out_id)

    def stage(
        self,
        items: Sequence[Mapping[str, Any]] | EncodedPage,
        *,
        fan_out_id: int | None = None,
    ) -> int:
        """COPY items (or a page `encode` made) into staging; returns how many were staged.

        Args:
            fan_out_id: as `encode`, for items (a page `encode` made carries its own).

        Raises:
            ValueError: as `encode` (a fan_out_id with an encoded page too); a bad item
                leaves staging untouched.
        """
        self._check_open()
        if isinstance(items, EncodedPage):
            if fan_out_id is not None:
                raise ValueError(f"{self.spec.name}: give a page's fan_out_id to encode()")
            page = items
        else:
            page = self.encode(items, fan_out_id=fan_out_id)
        if page.table != self.spec.name:
            raise ValueError(f"{self.spec.name}: a page encoded for {page.table} was staged")
        self._keys.update(page.keys)
        if not page.rows:
            return 0
        with self._raw.cursor() as cursor:
            if self._streaming is None:
                self._streaming = self._start_streaming(cursor)
            self._staging.copy(cursor, page)
            if self._streaming and self._staging.unwritten >= STREAM_ROWS:
                self._write_streamed(cursor)
        return page.rows

    def _write_streamed(self, cursor: Any, *, last: bool = False) -> None:
        """Write what staging holds (the pages since the last write), then empty it
        (unless it is the `last` write: the commit drops staging anyway).

        Only this load has written the account's rows, so a staged id can be stored only
        if its page's span overlaps one written before; the primary-key probe of every
        staged row (any_stored.sql) runs only then.
        """
        staging = self._staging
        if staging.unwritten:
            spans = staging.spans
            repeats = self._written_spans.overlaps(spans) and staging.any_stored(cursor)
            self._streamed += insert_new(cursor, self._target, staging.source(), repeats=repeats)
            staging.emptied(None if last else cursor)
            self._written_spans.add(spans)

    def _start_streaming(self, cursor: Any) -> bool:
        """Whether the account has no row in the table: then pages are written as staged.

        Checked without the lock first (the common case, rows stored: no lock taken while
        pages arrive), then again under it; the lock is held to commit from then on, so no
        other load can write the account's rows while this one streams.
        """
        params = {"account": self.account}
        if self._any_row(cursor, params):
            return False
        self._lock(cursor)
        return not self._any_row(cursor, params)

    def _any_row(self, cursor: Any, params: Mapping[str, Any]) -> bool:
        statement = sql.SQL("SELECT EXISTS (SELECT 1 FROM {} WHERE account = %(account)s)")
        cursor.execute(statement.format(self._target.table), params)
        return bool(cursor.fetchone()[0])

    def missing(self) -> list[MissingRow]:
        """Active rows in the scope that are not in staging, ascending id.

        Only meaningful after a COMPLETE scan: rows a partial scan did not reach would look
        missing too. Rows of other accounts, and outside the scope, are never listed.
        """
        self._check_open()
        if self._streaming:
            return []  # every row of the account in the table was written by this load
        with self._raw.cursor() as cursor:
            return missing_rows(cursor, self._target, self.scope)

    def restrict_scope(self, values: Iterable[int]) -> None:
        """Narrow the scope `missing()` speaks for (scopes of a batch that did not finish)."""
        if self.scope.column is None:
            raise ValueError(f"{self.spec.name}: an account-wide scope cannot be narrowed")
        self.scope = Scope(self.scope.column, tuple(values))

    def new_fields(self) -> list[str]:
        """Item keys staged so far that the table's spec does not know, sorted."""
        return sorted(self._keys - self.spec.known_fields)

    def apply(
        self, *, deleted_ids: Iterable[int] = (), suspect_ids: Iterable[int] = ()
    ) -> LoadCounts:
        """Upsert staged rows, append history, rewrite changed rows' children, soft-delete
        and mark suspects.

        Args:
            deleted_ids: rows confirmed gone: deleted_at = now() on active rows of this
                account, history gets a deleted = true version (children are kept).
            suspect_ids: rows missed by a first complete scan (no way to confirm): their
                missing_since is set where NULL; a second miss makes the caller delete.

        Returns:
            Exact counts. A soft-deleted row that comes back counts as updated; a row whose
            incoming Muokattu is older than the stored one is not written and counts stale.
        """
        self._check_open()
        self._applied = True
        target = self._target
        with self._raw.cursor() as cursor:
            if self._streaming:  # it holds the table lock since its first page
                self._write_streamed(cursor, last=True)
                counts = LoadCounts(inserted=self._streamed)
            else:
                self._lock(cursor)
                if self._staging.any_stored(cursor):
                    counts = plan_and_write(cursor, target)
                else:  # nothing staged is stored yet: all inserts, no plan needed
                    source = self._staging.source()
                    counts = LoadCounts(inserted=insert_new(cursor, target, source, repeats=False))
            deleted = soft_delete(cursor, target, sorted(set(deleted_ids)))
            mark_suspects(cursor, target, sorted(set(suspect_ids)))
        return replace(counts, deleted=deleted)

    def _lock(self, cursor: Any) -> None:
        """Serialise loads of one account's table from here to commit.

        A webhook refresh meeting a nightly scan: the plan then sees the other load's
        committed rows, instead of both opening a history version and one failing on the
        open-version index. Taken at apply (held for apply + commit, not while pages
        arrive), except by a streaming load, which takes it at its first page.
        """
        lock = (
            "SELECT pg_advisory_xact_lock_shared(hashtext(%(table)s), hashtext(%(account)s))"
            if self._disjoint
            else "SELECT pg_advisory_xact_lock(hashtext(%(table)s), hashtext(%(account)s))"
        )
        cursor.execute(lock, {"table": self.spec.name, "account": self.account})

    def _check_open(self) -> None:
        if self._applied:
            raise RuntimeError(f"{self.spec.name}: this load was already applied")
