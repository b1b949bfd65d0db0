"""The store under test, the one contract of ``lorafox.ports.store`` for every spelling: SQLite
with its fast path (raw sqlite3 for ingest, hand-outs and items), SQLite on SQLAlchemy only, and
PostgreSQL (a fresh database)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from lorafox.settings import Settings
from lorafox.store.sql.store import SqlStore


@pytest.fixture(params=["sqlite", "sqlite-sqlalchemy", "postgres"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[SqlStore]:
    if request.param == "postgres":
        request.applymarker(pytest.mark.postgres)
        url = Settings.load(
            None, database_url=request.getfixturevalue("pg_database")
        ).sqlalchemy_url
    else:
        url = Settings.load(None, data_dir=tmp_path).sqlalchemy_url
    opened = await SqlStore.open(url, fast=request.param == "sqlite")
    assert (opened.database.fast_writer is not None) == (request.param == "sqlite")
    yield opened
    await opened.close()
