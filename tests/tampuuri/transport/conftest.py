"""Fixtures of the transport tests: the event loops they run on."""

from __future__ import annotations

import pytest


@pytest.fixture(
    params=[
        pytest.param("asyncio", id="asyncio"),
        pytest.param(("asyncio", {"use_uvloop": True}), id="uvloop"),
    ]
)
def anyio_backend(request: pytest.FixtureRequest) -> object:
    """Every test on asyncio's own loop and on uvloop (what a sync runs on)."""
    return request.param
