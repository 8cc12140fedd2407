"""Fixtures of the profile tests."""

from __future__ import annotations

import pytest

from .deployment import Deployment


@pytest.fixture
def deployment(engine, warehouse_url) -> Deployment:
    return Deployment(engine, warehouse_url)
