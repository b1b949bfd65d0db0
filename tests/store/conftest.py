"""The store under test: each test runs on SQLite and on PostgreSQL (a fresh database)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from lorafox.settings import Settings
from lorafox.store.sql.store import SqlStore


@pytest.fixture(params=["sqlite", "postgres"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[SqlStore]:
    if request.param == "sqlite":
        url = Settings.load(None, data_dir=tmp_path).sqlalchemy_url
    else:
        request.applymarker(pytest.mark.postgres)
        url = Settings.load(
            None, database_url=request.getfixturevalue("pg_database")
        ).sqlalchemy_url
    opened = await SqlStore.open(url)
    yield opened
    await opened.close()
