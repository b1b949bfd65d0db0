"""What the SQL side of the tables shares: row conversions, the group commit of SQLite item
writes, and ``TableStoreBase``."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, TypeVar

from sqlalchemy import and_, delete, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection

from lorafox.ports.tables import (
    Indexer,
    IndexRow,
    ItemRow,
    StoredTable,
)
from lorafox.store.sql.database import Database, Repository
from lorafox.store.sql.tables import ddb_index_items, ddb_items
from lorafox.tables.errors import (
    DynamoDBError,
)

__all__ = ["TABLE_CACHE_SECONDS", "SyncWork", "TableStoreBase"]

TABLE_CACHE_SECONDS = 0.5
"""How long a table's definition read by one request serves the next ones."""


def _table(row: Any) -> StoredTable:
    return StoredTable(
        id=row.id,
        name=row.name,
        definition=json.loads(row.definition),
        ttl_attribute=row.ttl_attribute,
        status=row.status,
        created_at=row.created_at,
        group_path=row.group_path,
    )


def _row(row: Any) -> ItemRow:
    return ItemRow(bytes(row.pk), bytes(row.sk), json.loads(row.item), row.size)


def _index_row(row: Any) -> IndexRow:
    return IndexRow(
        bytes(row.pk),
        bytes(row.sk),
        bytes(row.item_pk),
        bytes(row.item_sk),
        json.loads(row.item),
        row.size,
    )


def _dump(item: dict[str, Any]) -> str:
    return json.dumps(item, separators=(",", ":"), ensure_ascii=False)


def _after(columns: Sequence[Any], values: Sequence[bytes]) -> Any:
    """``columns > values`` in lexicographic order, spelled so that an index serves it."""
    first, rest = columns[0], columns[1:]
    if not rest:
        return first > values[0]
    return and_(first >= values[0], or_(first > values[0], _after(rest, values[1:])))


def _before(columns: Sequence[Any], values: Sequence[bytes]) -> Any:
    first, rest = columns[0], columns[1:]
    if not rest:
        return first < values[0]
    return and_(first <= values[0], or_(first < values[0], _before(rest, values[1:])))


_T = TypeVar("_T")
SyncWork = Callable[[sqlite3.Cursor], Any]


class _GroupCommit:
    """SQLite: the item writes that arrive while a transaction commits share the next one.

    Each write is a function of the cursor that, when it raises a ``DynamoDBError`` (a failed
    condition, a token reused), does so before it writes anything: that failure is its own
    answer and the others commit. Any other error rolls the whole group back. One fsync
    serves the group instead of one per request."""

    def __init__(self, transaction: Callable[[SyncWork], Awaitable[Any]]) -> None:
        self._transaction = transaction
        self._pending: list[tuple[SyncWork, asyncio.Future[Any]]] = []
        self._runner: asyncio.Task[None] | None = None

    async def submit(self, work: SyncWork) -> Any:
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._pending.append((work, future))
        if self._runner is None or self._runner.done():
            self._runner = asyncio.create_task(self._drain())
        return await future

    async def _drain(self) -> None:
        while self._pending:
            batch, self._pending = self._pending, []
            outcomes: list[tuple[asyncio.Future[Any], Any, BaseException | None]] = []

            def run_all(
                cursor: sqlite3.Cursor, batch: Any = batch, outcomes: Any = outcomes
            ) -> None:
                for work, future in batch:
                    try:
                        outcomes.append((future, work(cursor), None))
                    except DynamoDBError as exc:
                        outcomes.append((future, None, exc))

            try:
                await self._transaction(run_all)
            except Exception as exc:  # the transaction failed, so did every request in it
                for _, future in batch:
                    if not future.done():
                        future.set_exception(exc)
                continue
            for future, value, error in outcomes:
                if future.done():
                    continue
                if error is None:
                    future.set_result(value)
                else:
                    future.set_exception(error)


class TableStoreBase(Repository):
    """What the table queries share: the group commit of item writes and the cache of table
    definitions (``ItemRepository`` is made of them)."""

    def __init__(self, database: Database) -> None:
        super().__init__(database)
        self._group_commit: _GroupCommit | None = None
        self._table_cache: dict[str, tuple[float, StoredTable]] = {}

    async def _write(
        self,
        work: Callable[[AsyncConnection], Awaitable[_T]],
        fast: Callable[[sqlite3.Cursor], _T],
    ) -> _T:
        """Run a write in a transaction: ``fast`` in a group commit on SQLite's raw writer
        connection, else ``work`` in a transaction of its own (PostgreSQL commits concurrent
        transactions together by itself)."""
        if self._db.fast_writer is None:
            async with self._db.writing() as conn:
                return await work(conn)
        if self._group_commit is None:
            self._group_commit = _GroupCommit(self._db.fast_write)
        result: _T = await self._group_commit.submit(fast)
        return result

    def _key(self, table_id: int, pk: bytes, sk: bytes) -> Any:
        return and_(ddb_items.c.table_id == table_id, ddb_items.c.pk == pk, ddb_items.c.sk == sk)

    @staticmethod
    def _join() -> Any:
        return and_(
            ddb_items.c.table_id == ddb_index_items.c.table_id,
            ddb_items.c.pk == ddb_index_items.c.item_pk,
            ddb_items.c.sk == ddb_index_items.c.item_sk,
        )

    async def _reindex(
        self,
        conn: AsyncConnection,
        table_id: int,
        pk: bytes,
        sk: bytes,
        old: Mapping[str, Any] | None,
        new: Mapping[str, Any] | None,
        indexer: Indexer | None,
    ) -> None:
        """Delete the index entries only the old item had, insert those only the new one has."""
        if indexer is None:
            return
        before = set(indexer(old)) if old is not None else set()
        after = set(indexer(new)) if new is not None else set()
        t = ddb_index_items.c
        for index_id, ipk, isk in before - after:
            await conn.execute(
                delete(ddb_index_items).where(
                    t.table_id == table_id,
                    t.index_id == index_id,
                    t.pk == ipk,
                    t.sk == isk,
                    t.item_pk == pk,
                    t.item_sk == sk,
                )
            )
        added = [
            {
                "table_id": table_id,
                "index_id": index_id,
                "pk": ipk,
                "sk": isk,
                "item_pk": pk,
                "item_sk": sk,
            }
            for index_id, ipk, isk in after - before
        ]
        if added:
            await conn.execute(self._db.insert(ddb_index_items).on_conflict_do_nothing(), added)

    async def _locked_item(
        self, conn: AsyncConnection, table_id: int, pk: bytes, sk: bytes
    ) -> dict[str, Any] | None:
        query = select(ddb_items.c.item).where(self._key(table_id, pk, sk))
        if self._db.postgres:
            query = query.with_for_update()
        row = (await conn.execute(query)).first()
        return None if row is None else dict(json.loads(row.item))
