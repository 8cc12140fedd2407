"""Fixtures of the BI tests: a login role in tampuuri_bi (seed helpers live in seed.py)."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url


@pytest.fixture
def bi_user(engine: Engine, warehouse_url: str) -> Iterator[Callable[[], Engine]]:
    """A login role IN ROLE tampuuri_bi, unique to the test, dropped afterwards.

    Yields a factory of engines connected as that role (trust auth on the test server).
    """
    name = f"bi_test_{uuid.uuid4().hex[:10]}"
    with engine.begin() as conn:
        conn.execute(text(f'CREATE ROLE "{name}" LOGIN IN ROLE tampuuri_bi'))
    engines: list[Engine] = []

    def connect() -> Engine:
        url = make_url(warehouse_url).set(username=name, password=None)
        eng = create_engine(url)
        engines.append(eng)
        return eng

    yield connect
    for eng in engines:
        eng.dispose()
    with engine.begin() as conn:
        conn.execute(text(f'DROP ROLE "{name}"'))
