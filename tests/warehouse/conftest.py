"""Helpers for the warehouse tests: run one ScopeLoad in its own transaction, read rows."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import pytest
from sqlalchemy import Engine, text

from pipelines.warehouse.loader import LoadCounts, Scope, ScopeLoad


def run_load(
    engine: Engine,
    table: str,
    *pages: Sequence[Mapping[str, Any]],
    account: str = "acc-a",
    run_id: str = "run-1",
    scope: Scope | None = None,
    deleted_ids: Iterable[int] = (),
    suspect_ids: Iterable[int] = (),
    stream: bool = False,
) -> LoadCounts:
    """Stage each page, apply, commit: what the sync does for one scope."""
    with engine.begin() as conn:
        load = ScopeLoad(conn, table, account=account, run_id=run_id,
                         scope=scope or Scope(None), stream=stream)  # fmt: skip
        for page in pages:
            load.stage(page)
        return load.apply(deleted_ids=deleted_ids, suspect_ids=suspect_ids)


def rows(engine: Engine, query: str, **params: Any) -> list[tuple[Any, ...]]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(text(query), params)]


@pytest.fixture
def load(engine: Engine):
    def _load(table: str, *pages: Sequence[Mapping[str, Any]], **kwargs: Any) -> LoadCounts:
        return run_load(engine, table, *pages, **kwargs)

    return _load


@pytest.fixture
def fetch(engine: Engine):
    def _fetch(query: str, **params: Any) -> list[tuple[Any, ...]]:
        return rows(engine, query, **params)

    return _fetch
