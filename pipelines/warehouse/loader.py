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

The caller commits staging, rows, history and the cursor (state.py) together, or rolls all
back. SQL templates live in `sql/loader/`; identifiers come only from `tables.TABLES`;
how an item becomes a COPY line (canonical JSON, row hash) is `encoding.py`.

History: every insert or change closes the row's open version (valid_to = now()) and opens
a new one. A soft delete closes the open version and opens a final one with deleted = true
and valid_to NULL, so the current history version of a deleted row says "deleted". A row
that comes back closes that marker like any other version.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, fields, replace
from datetime import datetime
from functools import cache
from typing import Any

from psycopg import sql
from sqlalchemy import Connection

from pipelines.settings import PROJECT_ROOT
from pipelines.warehouse.encoding import EncodedPage, encode_page
from pipelines.warehouse.id_spans import IdSpan, WrittenSpans, repeat_free
from pipelines.warehouse.tables import (
    TABLES,
    Column,
    TableSpec,
    freshness_expressions,
    typed_expression,
)

SQL_DIR = PROJECT_ROOT / "sql" / "loader"
SCHEMA = "tampuuri"
# A streaming load writes staging out once it holds this many rows: per row, a few pages
# per statement cost about what one set-based write of everything does, and small writes
# overlap the fetching sooner (a 10k-row account's link list: 5,000 wrote it all at the
# end; 1,000 took its full sync from ~0.47 to ~0.44 s, with 100k and 1M unchanged).
STREAM_ROWS = 1000
# A unique suffix per load: one transaction (one session's temp tables) may hold several
# loads, even of the same table.
_load_numbers = itertools.count(1)


@dataclass(frozen=True)
class Scope:
    """Which warehouse rows a complete scan speaks for (its deletion candidates).

    Attributes:
        column: None for the whole account; else "id" or a typed column of the table,
            e.g. "kustannuspaikka_id" when one cost centre's objects were scanned.
        values: the column values the scan covered (no values: no rows).
    """

    column: str | None
    values: tuple[int, ...] = ()


@dataclass(frozen=True)
class MissingRow:
    """An active row a complete scan did not see; missing_since is set after a first miss."""

    id: int
    missing_since: datetime | None


@dataclass(frozen=True)
class LoadCounts:
    """What a load did; `stale` rows were older than the stored version and not written."""

    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    deleted: int = 0
    stale: int = 0

    def __add__(self, other: LoadCounts) -> LoadCounts:
        return LoadCounts(
            **{f.name: getattr(self, f.name) + getattr(other, f.name) for f in fields(self)}
        )


def _assignments(columns: Sequence[Column]) -> sql.Composable:
    """`c = EXCLUDED.c` for each typed column (the ON CONFLICT update of a row)."""
    return sql.SQL(", ").join(
        sql.SQL("{c} = EXCLUDED.{c}").format(c=sql.Identifier(c.name)) for c in columns
    )


@cache
def _template(name: str) -> sql.SQL:
    return sql.SQL((SQL_DIR / f"{name}.sql").read_text(encoding="utf-8"))


class ScopeLoad:
    """One scan of one scope of one table, staged and applied in the caller's transaction."""

    def __init__(
        self,
        conn: Connection,
        table: str,
        *,
        account: str,
        run_id: str,
        scope: Scope = Scope(None),
        disjoint: bool = False,
        stream: bool = False,
    ) -> None:
        """Create the temp staging table (dropped at commit or rollback).

        Args:
            conn: a connection inside the caller's transaction.
            table: a key of `tables.TABLES`.
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
        self.spec: TableSpec = TABLES[table]
        if scope.column not in (None, "id"):
            self.spec.column(scope.column)  # KeyError names the table and column
        self.account = account
        self.run_id = run_id
        self.scope = scope
        self._disjoint = disjoint
        number = next(_load_numbers)
        self._staging = sql.Identifier(f"staging_{self.spec.name}_{number}")
        self._plan = sql.Identifier(f"plan_{self.spec.name}_{number}")
        self._latest_staged = _template("latest_staged").format(staging=self._staging)
        self._table = sql.Identifier(SCHEMA, self.spec.name)
        self._history = sql.Identifier(SCHEMA, self.spec.history)
        self._keys: set[str] = set()
        self._applied = False
        self._stream = stream and not disjoint
        # None: not decided yet (streaming starts, or not, with the first staged rows).
        self._streaming: bool | None = None if self._stream else False
        self._streamed = 0  # rows inserted so far while streaming
        self._unwritten = 0  # rows staged since staging was last written (streaming)
        self._staged_spans: list[IdSpan] = []  # the ids in staging (id_spans.py)
        self._written_spans = WrittenSpans()  # the ids a streaming load has written
        raw = conn.connection.driver_connection
        assert raw is not None
        self._raw: Any = raw
        # seq orders the stagings: the last staged copy of an id wins. Typed columns are
        # not staged: the writes extract them from data (tables.typed_expression).
        self._execute(
            sql.SQL(
                "CREATE TEMP TABLE {} (seq bigint GENERATED ALWAYS AS IDENTITY,"
                " id bigint NOT NULL, data jsonb NOT NULL, row_hash text NOT NULL)"
                " ON COMMIT DROP"
            ).format(self._staging)
        )
        # In the order encoding.encode_page writes them.
        self._copy_sql = sql.SQL("COPY {} (data, id, row_hash) FROM STDIN").format(self._staging)

    def encode(self, items: Sequence[Mapping[str, Any]]) -> EncodedPage:
        """Validate and encode items for `stage` (`encoding.encode_page`).

        Pure CPU, no database: a caller may encode the next page while the connection is
        still busy with the previous one.

        Raises:
            ValueError: as `encoding.encode_page`.
        """
        return encode_page(self.spec, items)

    def stage(self, items: Sequence[Mapping[str, Any]] | EncodedPage) -> int:
        """COPY items (or a page `encode` made) into staging; returns how many were staged.

        Raises:
            ValueError: as `encode`; a bad item leaves staging untouched.
        """
        self._check_open()
        page = items if isinstance(items, EncodedPage) else self.encode(items)
        if page.table != self.spec.name:
            raise ValueError(f"{self.spec.name}: a page encoded for {page.table} was staged")
        self._keys.update(page.keys)
        if not page.rows:
            return 0
        with self._raw.cursor() as cursor:
            if self._streaming is None:
                self._streaming = self._start_streaming(cursor)
            with cursor.copy(self._copy_sql) as copy:
                copy.write(page.lines)
            self._unwritten += page.rows
            self._staged_spans.extend(page.spans)
            if self._streaming and self._unwritten >= STREAM_ROWS:
                self._write_streamed(cursor)
        return page.rows

    def _write_streamed(self, cursor: Any, *, last: bool = False) -> None:
        """Write what staging holds (the pages since the last write), then empty it
        (unless it is the `last` write: the commit drops staging anyway).

        Only this load has written the account's rows, so a staged id can be stored only
        if its page's span overlaps one written before; the primary-key probe of every
        staged row (any_stored.sql) runs only then.
        """
        if self._unwritten:
            spans = self._staged_spans
            repeats = self._written_spans.overlaps(spans) and self._any_stored(cursor)
            self._streamed += self._insert_new(cursor, repeats=repeats)
            if not last:
                cursor.execute(sql.SQL("TRUNCATE {}").format(self._staging))
            self._written_spans.add(spans)
            self._staged_spans = []
            self._unwritten = 0

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
        cursor.execute(statement.format(self._table), params)
        return bool(cursor.fetchone()[0])

    def _insert_new(self, cursor: Any, *, repeats: bool) -> int:
        """Write every staged row as new, with its first history version; returns how many
        rows were inserted (insert_new_rows.sql, insert_new_versions.sql).

        Args:
            repeats: some staged ids are stored, by this streaming load itself: overwrite
                them (ON CONFLICT) instead of inserting; else plain inserts.

        When staging holds no id twice (`id_spans.repeat_free`), every staged row is
        written as it is; else the last staged copy of each id, which costs a sort.
        """
        columns = self.spec.columns
        row_conflict: sql.Composable = sql.SQL("")
        version_conflict: sql.Composable = sql.SQL("")
        if repeats:
            row_conflict = sql.SQL("{} RETURNING (t.xmax = 0)").format(
                _template("overwrite_row").format(assignments=_assignments(columns))
            )
            version_conflict = _template("overwrite_version")
        params = {"account": self.account, "run_id": self.run_id}
        source = self._staging if repeat_free(self._staged_spans) else self._latest_staged
        rows = _template("insert_new_rows").format(
            table=self._table,
            source=source,
            columns=sql.SQL(", ").join(sql.Identifier(c.name) for c in columns),
            values=sql.SQL(", ").join(typed_expression(c) for c in columns),
            row_conflict=row_conflict,
        )
        cursor.execute(rows, params)
        # With repeats, only the rows xmax = 0 says were new count as inserted.
        inserted = sum(new for (new,) in cursor) if repeats else cursor.rowcount
        versions = _template("insert_new_versions").format(
            history=self._history, source=source, version_conflict=version_conflict
        )
        cursor.execute(versions, params)
        return int(inserted)

    def missing(self) -> list[MissingRow]:
        """Active rows in the scope that are not in staging, ascending id.

        Only meaningful after a COMPLETE scan: rows a partial scan did not reach would look
        missing too. Rows of other accounts, and outside the scope, are never listed.
        """
        self._check_open()
        if self._streaming:
            return []  # every row of the account in the table was written by this load
        params: dict[str, Any] = {"account": self.account}
        scope_filter: sql.Composable = sql.SQL("")
        if self.scope.column is not None:
            scope_filter = sql.SQL("AND t.{} = ANY(%(scope_values)s)").format(
                sql.Identifier(self.scope.column)
            )
            params["scope_values"] = list(self.scope.values)
        query = _template("missing").format(
            table=self._table, staging=self._staging, scope_filter=scope_filter
        )
        with self._raw.cursor() as cursor:
            cursor.execute(query, params)
            return [MissingRow(id=row[0], missing_since=row[1]) for row in cursor]

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
        """Upsert staged rows, append history, soft-delete and mark suspects.

        Args:
            deleted_ids: rows confirmed gone: deleted_at = now() on active rows of this
                account, history gets a deleted = true version.
            suspect_ids: rows missed by a first complete scan (no way to confirm): their
                missing_since is set where NULL; a second miss makes the caller delete.

        Returns:
            Exact counts. A soft-deleted row that comes back counts as updated; a row whose
            incoming Muokattu is older than the stored one is not written and counts stale.
        """
        self._check_open()
        self._applied = True
        with self._raw.cursor() as cursor:
            if self._streaming:  # it holds the table lock since its first page
                self._write_streamed(cursor, last=True)
                counts = LoadCounts(inserted=self._streamed)
            else:
                self._lock(cursor)
                if self._any_stored(cursor):
                    counts = self._plan_and_write(cursor)
                else:  # nothing staged is stored yet: all inserts, no plan needed
                    counts = LoadCounts(inserted=self._insert_new(cursor, repeats=False))
            deleted = self._soft_delete(cursor, sorted(set(deleted_ids)))
            self._mark_suspects(cursor, sorted(set(suspect_ids)))
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

    def _any_stored(self, cursor: Any) -> bool:
        statement = _template("any_stored").format(staging=self._staging, table=self._table)
        cursor.execute(statement, {"account": self.account})
        return bool(cursor.fetchone()[0])

    def _plan_and_write(self, cursor: Any) -> LoadCounts:
        """Classify staged rows against stored ones (plan.sql), then write what changed."""
        params = {"account": self.account, "run_id": self.run_id}
        spec = self.spec
        names = {"plan": self._plan, "staging": self._staging, "table": self._table}
        # Temp tables are never auto-analysed; without statistics the planner guesses.
        cursor.execute(sql.SQL("ANALYZE {}").format(self._staging))
        cursor.execute(_template("plan").format(**names, **freshness_expressions(spec)), params)
        cursor.execute(sql.SQL("ANALYZE {}").format(self._plan))
        cursor.execute(
            sql.SQL(
                "SELECT count(*) FILTER (WHERE action IN ('insert', 'update')),"
                " count(*) FILTER (WHERE action = 'update'),"
                " count(*) FILTER (WHERE action = 'unchanged'),"
                " count(*) FILTER (WHERE action = 'stale'),"
                " count(*) FILTER (WHERE was_missing) FROM {}"
            ).format(self._plan)
        )
        writes, updates, unchanged, stale, were_missing = cursor.fetchone()
        inserted = updated = 0
        # A nightly re-scan mostly finds nothing changed: skip the statements that would
        # find nothing to do.
        if updates:
            cursor.execute(
                _template("history_close").format(history=self._history, plan=self._plan),
                params,
            )
        if writes:
            cursor.execute(
                _template("upsert").format(
                    **names,
                    columns=sql.SQL(", ").join(sql.Identifier(c.name) for c in spec.columns),
                    values=sql.SQL(", ").join(typed_expression(c) for c in spec.columns),
                    assignments=_assignments(spec.columns),
                ),
                params,
            )
            inserted, updated = cursor.fetchone()
            cursor.execute(_template("history_open").format(history=self._history, **names), params)
        if were_missing:
            # Seen again: no longer a deletion candidate (the only write to unchanged rows).
            cursor.execute(
                _template("clear_missing").format(table=self._table, plan=self._plan),
                params,
            )
        cursor.execute(sql.SQL("DROP TABLE {}").format(self._plan))
        return LoadCounts(inserted=inserted, updated=updated, unchanged=unchanged, stale=stale)

    def _soft_delete(self, cursor: Any, ids: list[int]) -> int:
        if not ids:
            return 0
        params: dict[str, Any] = {"account": self.account, "run_id": self.run_id}
        cursor.execute(_template("soft_delete").format(table=self._table), {**params, "ids": ids})
        gone = [row[0] for row in cursor.fetchall()]
        if gone:
            params["ids"] = gone
            cursor.execute(_template("history_close_ids").format(history=self._history), params)
            cursor.execute(
                _template("history_mark_deleted").format(history=self._history, table=self._table),
                params,
            )
        return len(gone)

    def _mark_suspects(self, cursor: Any, ids: list[int]) -> None:
        if not ids:
            return
        cursor.execute(
            _template("mark_suspects").format(table=self._table),
            {"account": self.account, "ids": ids},
        )

    def _execute(self, statement: sql.Composable) -> None:
        with self._raw.cursor() as cursor:
            cursor.execute(statement)

    def _check_open(self) -> None:
        if self._applied:
            raise RuntimeError(f"{self.spec.name}: this load was already applied")
