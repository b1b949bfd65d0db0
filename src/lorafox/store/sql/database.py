"""The one database object every repository works through: SQLite (default, one file) or
PostgreSQL (asyncpg), on SQLAlchemy Core.

SQLite runs in WAL mode with ``synchronous=FULL``: a commit is on disk when it returns. Writes
are serialised in-process (one writer is all SQLite allows), reads run beside them. On a SQLite
file the database also holds the fast path's raw connections (``sqlite_writer``): a writer the
hot writes share and a read-only one for the hot reads; ``fast=False`` leaves them out, so that
everything runs through SQLAlchemy as on PostgreSQL.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
import weakref
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any, TypeVar

from alembic import command
from alembic.config import Config
from sqlalchemy import Executable, Row, event, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from lorafox.errors import ConfigError, StoreError
from lorafox.store.sql.sqlite_writer import SqliteWriter

__all__ = ["Database", "Repository", "migrate"]

log = logging.getLogger(__name__)

_T = TypeVar("_T")

_MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"

#: what a database that is away raises: SQLAlchemy's errors, and the socket's own when asyncpg
#: cannot even connect (a refused connection is not wrapped)
_UNAVAILABLE: tuple[type[Exception], ...] = (SQLAlchemyError, sqlite3.Error, OSError)


def _store_error(doing: str, exc: Exception) -> StoreError:
    """Log ``exc`` and return the ``StoreError`` a caller gets (answered 503)."""
    log.error("database %s failed: %s", doing, exc)
    if "database or disk is full" in str(exc):  # SQLITE_FULL, through SQLAlchemy or not
        return StoreError("the disk holding the database is full")
    return StoreError("the database is unavailable")


def migrate(connection: Connection) -> None:
    """Bring the schema to the newest revision (Alembic), on an open connection."""
    config = Config()
    config.set_main_option("script_location", str(_MIGRATIONS))
    config.attributes["connection"] = connection
    command.upgrade(config, "head")


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    for pragma in (
        "PRAGMA journal_mode=WAL",
        "PRAGMA synchronous=FULL",
        "PRAGMA busy_timeout=30000",
        "PRAGMA foreign_keys=ON",
    ):
        cursor.execute(pragma)
    cursor.close()


class Database:
    """The engine, its dialect's spellings, and the transactions the repositories run in."""

    def __init__(self, engine: AsyncEngine, *, fast: bool = True) -> None:
        self.engine = engine
        self.postgres = engine.dialect.name == "postgresql"
        self.insert: Callable[..., Any] = postgresql.insert if self.postgres else sqlite.insert
        """The dialect's INSERT, which has ``ON CONFLICT``."""
        path = engine.url.database
        self._path = path if fast and engine.dialect.name == "sqlite" and path else None
        if self._path == ":memory:":
            self._path = None
        self.fast_writer = None if self._path is None else SqliteWriter(self._path)
        """SQLite (a file): the raw writer connection of the hot writes; else None."""
        # SQLite has one writer; queueing here beats its busy-wait.
        self._write_lock: asyncio.Lock | None = None if self.postgres else asyncio.Lock()
        self._read_connection: sqlite3.Connection | None = None

    @classmethod
    async def open(cls, url: str, *, fast: bool = True) -> Database:
        """Connect, migrate to the newest schema, and return the database."""
        # Parameters hold password hashes and encrypted secrets: never in logs, even at DEBUG.
        kwargs: dict[str, Any] = {"hide_parameters": True}
        if url.startswith("sqlite"):
            kwargs["connect_args"] = {"timeout": 30}
        try:
            engine = create_async_engine(url, **kwargs)
        except (SQLAlchemyError, ImportError, ValueError) as exc:
            raise ConfigError(
                f"cannot use the database URL: {exc} (use --database-url or LORAFOX_DATABASE_URL: "
                "sqlite:///PATH or postgresql://USER@HOST/DB)"
            ) from exc
        if engine.dialect.name == "sqlite":
            event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        database = cls(engine, fast=fast)
        try:
            async with engine.begin() as conn:
                await conn.run_sync(migrate)
        except (SQLAlchemyError, OSError) as exc:
            await database.close()
            raise StoreError(
                f"cannot open the database: {exc} (check --database-url or LORAFOX_DATABASE_URL)"
            ) from exc
        return database

    async def ping(self) -> None:
        """Return if the database answers, else raise ``StoreError``."""
        async with self.reading() as conn:
            await conn.execute(select(1))

    async def close(self) -> None:
        if self.fast_writer is not None:
            await self.fast_writer.close()
        if self._read_connection is not None:
            self._read_connection.close()
            self._read_connection = None
        await self.engine.dispose()

    @contextlib.asynccontextmanager
    async def reading(self) -> AsyncIterator[AsyncConnection]:
        try:
            async with self.engine.connect() as conn:
                yield conn
        except _UNAVAILABLE as exc:
            raise _store_error("read", exc) from exc

    @contextlib.asynccontextmanager
    async def writing(self) -> AsyncIterator[AsyncConnection]:
        lock = self._write_lock or contextlib.nullcontext()
        try:
            async with lock, self.engine.begin() as conn:
                yield conn
        except _UNAVAILABLE as exc:
            raise _store_error("write", exc) from exc

    async def fast_write(self, work: Callable[[sqlite3.Cursor], _T]) -> _T:
        """Run ``work`` in a transaction of the raw writer (there must be one)."""
        writer = self.fast_writer
        assert writer is not None  # noqa: S101 - callers hold the fast path only with a writer
        try:
            async with self._write_lock or contextlib.nullcontext():
                return await writer.transaction(work)
        except sqlite3.Error as exc:
            raise _store_error("write", exc) from exc

    def fast_read(self, read: Callable[[sqlite3.Connection], _T]) -> _T | None:
        """``read`` on the raw read-only connection; None where there is no fast path."""
        if self._path is None:
            return None
        if self._read_connection is None:
            connection = sqlite3.connect(self._path, check_same_thread=False, isolation_level=None)
            connection.execute("PRAGMA query_only=ON")
            weakref.finalize(self, connection.close)
            self._read_connection = connection
        try:
            return read(self._read_connection)
        except sqlite3.Error as exc:
            raise StoreError("the database is unavailable") from exc


class Repository:
    """Base of the SQL repositories: each works through the one ``Database``."""

    def __init__(self, database: Database) -> None:
        self._db = database

    async def _first(self, query: Executable, convert: Callable[[Row[Any]], _T]) -> _T | None:
        """``convert`` of the first row ``query`` reads; None when it reads none."""
        async with self._db.reading() as conn:
            row = (await conn.execute(query)).first()
        return None if row is None else convert(row)
