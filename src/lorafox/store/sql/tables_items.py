"""The SQL side of the DynamoDB-compatible tables: table metadata and items.

Items are rows keyed by (table id, ``pk``, ``sk``), where ``pk``/``sk`` are
``lorafox.tables.keys.encode_key_value`` bytes: the primary key's B-tree is the sort order DynamoDB
gives, so :meth:`TableItemQueries.query_items` reads one key range (``encoded_range()`` bounds)
and a Query costs the same at 10 items or 10 million. The item itself is stored as JSON in
DynamoDB wire form.

Secondary indexes (and the time-to-live attribute, index 0) are rows of ``ddb_index_items``
keyed by (table, index, index key bytes, item key bytes), written in the transaction of the item
they point at: a write computes the entries of the old and of the new item with the table's
``Indexer`` and deletes or inserts only the difference (a write that changes no index key touches
no index row). :meth:`TableItemQueries.query_index` reads one range of that key and joins each
entry to its item.

Conditional writes (:meth:`TableItemQueries.write_item`) read the old item and write the new one
in one transaction: on SQLite writes are serialised by the store's write lock; on PostgreSQL
the old row is read ``FOR UPDATE``, and a new one is inserted with ``ON CONFLICT DO NOTHING``:
when a concurrent write created it first, the decision is taken again on that item.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sqlite3
import time
import weakref
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, TypeVar

from sqlalchemy import and_, delete, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from lorafox.errors import StoreError
from lorafox.ports.tables import (
    KEEP,
    Bound,
    ClientToken,
    Indexer,
    IndexRow,
    ItemRow,
    StoredTable,
    TableNameTaken,
    WriteDecision,
)
from lorafox.store.sql import tables_sqlite as fast
from lorafox.store.sql.sqlite_writer import SqliteWriter
from lorafox.store.sql.tables import ddb_client_tokens, ddb_index_items, ddb_items, ddb_tables
from lorafox.store.sql.tables_sqlite import load
from lorafox.tables.errors import (
    DynamoDBError,
    IdempotentParameterMismatchException,
    TransactionConflictException,
)

__all__ = ["TableItemQueries"]

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


class TableItemQueries:
    """Mixed into ``SqlStore``, which provides the connections (implements ``ItemStore``)."""

    _insert: Callable[..., Any]
    _postgres: bool
    _group_commit: _GroupCommit | None = None
    _table_cache: dict[str, tuple[float, StoredTable]] | None = None

    def _reading(self) -> contextlib.AbstractAsyncContextManager[AsyncConnection]:
        raise NotImplementedError

    def _writing(self) -> contextlib.AbstractAsyncContextManager[AsyncConnection]:
        raise NotImplementedError

    _fast_writer: SqliteWriter | None
    _engine: AsyncEngine
    _read_connection: sqlite3.Connection | None = None

    def _reader(self) -> sqlite3.Connection | None:
        """SQLite (a file): a read-only raw connection for the hot reads; else None."""
        if self._fast_writer is None:
            return None
        if self._read_connection is None:
            path = self._engine.url.database
            assert path is not None  # noqa: S101 - there is a file writer
            connection = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
            connection.execute("PRAGMA query_only=ON")
            weakref.finalize(self, connection.close)
            self._read_connection = connection
        return self._read_connection

    def _raw_read(self, read: Callable[[sqlite3.Connection], _T]) -> _T | None:
        """``read`` on the raw connection (None without one); a failure is a StoreError."""
        connection = self._reader()
        if connection is None:
            return None
        try:
            return read(connection)
        except sqlite3.Error as exc:
            raise StoreError("the database is unavailable") from exc

    async def _sqlite(self, writer: SqliteWriter, work: Callable[[sqlite3.Cursor], _T]) -> _T:
        raise NotImplementedError

    async def _write(
        self,
        work: Callable[[AsyncConnection], Awaitable[_T]],
        fast: Callable[[sqlite3.Cursor], _T],
    ) -> _T:
        """Run a write in a transaction: ``fast`` in a group commit on SQLite's raw writer
        connection, else ``work`` in a transaction of its own (PostgreSQL commits concurrent
        transactions together by itself)."""
        writer = self._fast_writer
        if writer is None:
            async with self._writing() as conn:
                return await work(conn)
        if self._group_commit is None:

            async def transaction(run: SyncWork) -> Any:
                return await self._sqlite(writer, run)

            self._group_commit = _GroupCommit(transaction)
        result: _T = await self._group_commit.submit(fast)
        return result

    # -- tables ----------------------------------------------------------------------------

    async def create_table(
        self, name: str, definition: dict[str, Any], group_path: str | None = None
    ) -> StoredTable:
        created = int(time.time() * 1000)
        try:
            async with self._writing() as conn:
                if (
                    await conn.execute(select(ddb_tables.c.id).where(ddb_tables.c.name == name))
                ).first() is not None:
                    raise TableNameTaken(name)
                result = await conn.execute(
                    insert(ddb_tables).values(
                        name=name,
                        definition=json.dumps(definition),
                        ttl_attribute=None,
                        status="ACTIVE",
                        created_at=created,
                        group_path=group_path,
                    )
                )
                table_id = result.inserted_primary_key[0]  # type: ignore[index]
        except IntegrityError as exc:  # pragma: no cover - a concurrent CreateTable
            raise TableNameTaken(name) from exc
        self._forget_tables()
        return StoredTable(table_id, name, definition, None, "ACTIVE", created, group_path)

    def _forget_tables(self) -> None:
        if self._table_cache is not None:
            self._table_cache.clear()

    async def get_table(self, name: str) -> StoredTable | None:
        """The table, as read at most ``TABLE_CACHE_SECONDS`` ago (this process's own table
        changes are seen at once; another instance's within that time)."""
        if self._table_cache is None:
            self._table_cache = {}
        now = time.monotonic()
        cached = self._table_cache.get(name)
        if cached is not None and now - cached[0] < TABLE_CACHE_SECONDS:
            return cached[1]
        table: StoredTable | None
        if self._reader() is not None:
            raw = self._raw_read(lambda c: fast.get_table(c, name))
            table = (
                None
                if raw is None
                else StoredTable(raw[0], raw[1], load(raw[2]), raw[3], raw[4], raw[5], raw[6])
            )
        else:
            async with self._reading() as conn:
                query = select(ddb_tables).where(ddb_tables.c.name == name)
                row = (await conn.execute(query)).first()
            table = None if row is None else _table(row)
        if table is None:
            self._table_cache.pop(name, None)
            return None
        if len(self._table_cache) > 1000:
            self._table_cache.clear()
        self._table_cache[name] = (now, table)
        return table

    async def list_tables(self) -> list[StoredTable]:
        async with self._reading() as conn:
            rows = await conn.execute(select(ddb_tables).order_by(ddb_tables.c.id))
            return [_table(row) for row in rows]

    async def list_table_names(
        self, after: str | None, limit: int, within: tuple[str, ...] | None = None
    ) -> list[str]:
        query = select(ddb_tables.c.name).order_by(ddb_tables.c.name).limit(limit)
        if after is not None:
            query = query.where(ddb_tables.c.name > after)
        if within == ():
            return []
        if within is not None:
            # a group's subtree is a prefix of paths (% and _ cannot occur in a path)
            query = query.where(or_(*(ddb_tables.c.group_path.startswith(p) for p in within)))
        async with self._reading() as conn:
            return [row.name for row in await conn.execute(query)]

    async def delete_table(self, table_id: int) -> None:
        async with self._writing() as conn:
            await conn.execute(
                delete(ddb_index_items).where(ddb_index_items.c.table_id == table_id)
            )
            await conn.execute(delete(ddb_items).where(ddb_items.c.table_id == table_id))
            await conn.execute(delete(ddb_tables).where(ddb_tables.c.id == table_id))
        self._forget_tables()

    async def update_table(
        self,
        table_id: int,
        change: Callable[[StoredTable], tuple[dict[str, Any], str | None]],
    ) -> StoredTable:
        """Read the table (locked), let ``change`` give its new definition and TTL attribute
        (or raise), store them: one transaction, so concurrent changes are not lost."""
        async with self._writing() as conn:
            query = select(ddb_tables).where(ddb_tables.c.id == table_id)
            if self._postgres:
                query = query.with_for_update()
            row = (await conn.execute(query)).first()
            if row is None:
                raise LookupError(table_id)
            current = _table(row)
            definition, ttl = change(current)
            await conn.execute(
                update(ddb_tables)
                .where(ddb_tables.c.id == table_id)
                .values(definition=json.dumps(definition), ttl_attribute=ttl)
            )
        self._forget_tables()
        return StoredTable(
            current.id, current.name, definition, ttl, current.status, current.created_at
        )

    async def table_stats(self, table_id: int) -> tuple[int, int]:
        """(item count, total size in bytes): counted, so O(items); DescribeTable only."""
        query = select(func.count(), func.coalesce(func.sum(ddb_items.c.size), 0)).where(
            ddb_items.c.table_id == table_id
        )
        async with self._reading() as conn:
            count, size = (await conn.execute(query)).one()
        return int(count), int(size)

    async def index_stats(self, table_id: int, index_id: int) -> tuple[int, int]:
        """(entries, total size of their items): counted, so O(entries); DescribeTable only."""
        query = (
            select(func.count(), func.coalesce(func.sum(ddb_items.c.size), 0))
            .select_from(ddb_index_items.join(ddb_items, self._join()))
            .where(ddb_index_items.c.table_id == table_id, ddb_index_items.c.index_id == index_id)
        )
        async with self._reading() as conn:
            count, size = (await conn.execute(query)).one()
        return int(count), int(size)

    # -- items -----------------------------------------------------------------------------

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
            await conn.execute(self._insert(ddb_index_items).on_conflict_do_nothing(), added)

    async def _locked_item(
        self, conn: AsyncConnection, table_id: int, pk: bytes, sk: bytes
    ) -> dict[str, Any] | None:
        query = select(ddb_items.c.item).where(self._key(table_id, pk, sk))
        if self._postgres:
            query = query.with_for_update()
        row = (await conn.execute(query)).first()
        return None if row is None else dict(json.loads(row.item))

    async def get_item(self, table_id: int, pk: bytes, sk: bytes) -> dict[str, Any] | None:
        if self._reader() is not None:
            return self._raw_read(lambda c: fast.get_item(c, table_id, pk, sk))
        async with self._reading() as conn:
            row = (
                await conn.execute(select(ddb_items.c.item).where(self._key(table_id, pk, sk)))
            ).first()
        return None if row is None else dict(json.loads(row.item))

    async def write_item(
        self,
        table_id: int,
        pk: bytes,
        sk: bytes,
        decide: WriteDecision,
        indexer: Indexer | None = None,
    ) -> dict[str, Any] | None:
        """Read the item, let ``decide`` choose, write (and index): atomically.

        Returns the old item."""

        async def work(conn: AsyncConnection) -> dict[str, Any] | None:
            while True:
                old = await self._locked_item(conn, table_id, pk, sk)
                decision = decide(old)
                if decision is None:
                    if old is not None:
                        await conn.execute(delete(ddb_items).where(self._key(table_id, pk, sk)))
                        await self._reindex(conn, table_id, pk, sk, old, None, indexer)
                    return old
                new, size = decision
                if old is not None:
                    await conn.execute(
                        update(ddb_items)
                        .where(self._key(table_id, pk, sk))
                        .values(item=_dump(new), size=size)
                    )
                    await self._reindex(conn, table_id, pk, sk, old, new, indexer)
                    return old
                # No row to lock: insert only if nobody did meanwhile (PostgreSQL waits for a
                # concurrent inserter); if one did, decide again on its item, now locked.
                inserted = await conn.execute(
                    self._insert(ddb_items)
                    .values(table_id=table_id, pk=pk, sk=sk, item=_dump(new), size=size)
                    .on_conflict_do_nothing()
                )
                if inserted.rowcount:
                    await self._reindex(conn, table_id, pk, sk, None, new, indexer)
                    return None

        return await self._write(
            work, lambda cursor: fast.write_item(cursor, table_id, pk, sk, decide, indexer)
        )

    async def write_items(
        self,
        table_id: int,
        puts: Sequence[ItemRow],
        deletes: Sequence[tuple[bytes, bytes]],
        indexer: Indexer | None = None,
    ) -> None:
        """Unconditional puts and deletes in one transaction (BatchWriteItem)."""

        async def work(conn: AsyncConnection) -> None:
            olds: dict[tuple[bytes, bytes], dict[str, Any] | None] = {}
            if indexer is not None:
                for pk, sk in [*deletes, *((row.pk, row.sk) for row in puts)]:
                    olds[(pk, sk)] = await self._locked_item(conn, table_id, pk, sk)
            for pk, sk in deletes:
                await conn.execute(delete(ddb_items).where(self._key(table_id, pk, sk)))
                await self._reindex(conn, table_id, pk, sk, olds.get((pk, sk)), None, indexer)
            for row in puts:
                statement = self._insert(ddb_items).values(
                    table_id=table_id, pk=row.pk, sk=row.sk, item=_dump(row.item), size=row.size
                )
                await conn.execute(
                    statement.on_conflict_do_update(
                        index_elements=[ddb_items.c.table_id, ddb_items.c.pk, ddb_items.c.sk],
                        set_={"item": statement.excluded.item, "size": statement.excluded.size},
                    )
                )
                await self._reindex(
                    conn, table_id, row.pk, row.sk, olds.get((row.pk, row.sk)), row.item, indexer
                )

        rows = [(row.pk, row.sk, row.item, row.size) for row in puts]
        await self._write(
            work, lambda cursor: fast.write_items(cursor, table_id, rows, deletes, indexer)
        )

    async def _check_token(self, conn: AsyncConnection, token: ClientToken) -> bool:
        """True when the token's request already succeeded within the window."""
        query = select(ddb_client_tokens).where(ddb_client_tokens.c.token == token.token)
        if self._postgres:
            query = query.with_for_update()
        row = (await conn.execute(query)).first()
        if row is None or row.created_at <= token.now - token.window:
            return False
        if row.digest != token.digest:
            raise IdempotentParameterMismatchException()
        return True

    async def _save_token(self, conn: AsyncConnection, token: ClientToken) -> None:
        statement = self._insert(ddb_client_tokens).values(
            token=token.token, digest=token.digest, created_at=token.now
        )
        await conn.execute(
            statement.on_conflict_do_update(
                index_elements=[ddb_client_tokens.c.token],
                set_={
                    "digest": statement.excluded.digest,
                    "created_at": statement.excluded.created_at,
                },
            )
        )

    async def transact_write(
        self,
        keys: Sequence[tuple[int, bytes, bytes]],
        decide_all: Callable[[list[dict[str, Any] | None]], list[Any]],
        indexers: Mapping[int, Indexer] | None = None,
        token: ClientToken | None = None,
    ) -> bool:
        """All or nothing: read (and lock) every item, decide on all of them, write them.

        ``decide_all`` gets the old items in order and returns, for each, the new item and its
        size, ``None`` (delete) or ``KEEP``; raising cancels everything. On PostgreSQL an item
        created concurrently by another writer is a ``TransactionConflict`` (retryable). With a
        ``token`` seen within its window for the same request, nothing is done and the answer
        is True; for another request, ``IdempotentParameterMismatchException``.
        """
        known = indexers or {}

        async def work(conn: AsyncConnection) -> bool:
            if token is not None and await self._check_token(conn, token):
                return True
            olds = [await self._locked_item(conn, t, pk, sk) for t, pk, sk in keys]
            decisions = decide_all(olds)
            for (table_id, pk, sk), old, decision in zip(keys, olds, decisions, strict=True):
                indexer = known.get(table_id)
                if decision == KEEP:
                    continue
                if decision is None:
                    if old is not None:
                        await conn.execute(delete(ddb_items).where(self._key(table_id, pk, sk)))
                        await self._reindex(conn, table_id, pk, sk, old, None, indexer)
                    continue
                new, size = decision
                if old is not None:
                    await conn.execute(
                        update(ddb_items)
                        .where(self._key(table_id, pk, sk))
                        .values(item=_dump(new), size=size)
                    )
                    await self._reindex(conn, table_id, pk, sk, old, new, indexer)
                    continue
                inserted = await conn.execute(
                    self._insert(ddb_items)
                    .values(table_id=table_id, pk=pk, sk=sk, item=_dump(new), size=size)
                    .on_conflict_do_nothing()
                )
                if not inserted.rowcount:  # PostgreSQL only: SQLite's writes are serialised
                    raise TransactionConflictException("Transaction is ongoing for the item")
                await self._reindex(conn, table_id, pk, sk, None, new, indexer)
            if token is not None:
                await self._save_token(conn, token)
            return False

        plain = None if token is None else (token.token, token.digest, token.now, token.window)
        return await self._write(
            work,
            lambda cursor: fast.transact_write(cursor, keys, decide_all, known, plain, KEEP),
        )

    async def purge_client_tokens(self, before: int) -> None:
        async with self._writing() as conn:
            await conn.execute(
                delete(ddb_client_tokens).where(ddb_client_tokens.c.created_at < before)
            )

    async def get_items(
        self, keys: Sequence[tuple[int, bytes, bytes]]
    ) -> list[dict[str, Any] | None]:
        """Several items read in one transaction (TransactGetItems)."""
        found: list[dict[str, Any] | None] = []
        async with self._reading() as conn:
            for table_id, pk, sk in keys:
                row = (
                    await conn.execute(select(ddb_items.c.item).where(self._key(table_id, pk, sk)))
                ).first()
                found.append(None if row is None else dict(json.loads(row.item)))
        return found

    async def query_items(
        self,
        table_id: int,
        pk: bytes,
        lower: Bound,
        upper: Bound,
        *,
        forward: bool,
        limit: int,
    ) -> list[ItemRow]:
        """Up to ``limit`` items of one partition within the sort key bounds, in order."""
        raw = self._raw_read(
            lambda c: fast.query_items(c, table_id, pk, lower, upper, forward, limit)
        )
        if raw is not None:
            return [ItemRow(*row) for row in raw]
        conditions = [ddb_items.c.table_id == table_id, ddb_items.c.pk == pk]
        if lower is not None:
            value, included = lower
            conditions.append(ddb_items.c.sk >= value if included else ddb_items.c.sk > value)
        if upper is not None:
            value, included = upper
            conditions.append(ddb_items.c.sk <= value if included else ddb_items.c.sk < value)
        order = ddb_items.c.sk.asc() if forward else ddb_items.c.sk.desc()
        query = select(ddb_items).where(*conditions).order_by(order).limit(limit)
        async with self._reading() as conn:
            return [_row(row) for row in await conn.execute(query)]

    async def scan_items(
        self, table_id: int, after: tuple[bytes, bytes] | None, limit: int
    ) -> list[ItemRow]:
        """Up to ``limit`` items after the key ``after``, in (pk, sk) order."""
        query = select(ddb_items).where(ddb_items.c.table_id == table_id)
        if after is not None:
            query = query.where(_after((ddb_items.c.pk, ddb_items.c.sk), after))
        query = query.order_by(ddb_items.c.pk, ddb_items.c.sk).limit(limit)
        async with self._reading() as conn:
            return [_row(row) for row in await conn.execute(query)]

    # -- secondary indexes -----------------------------------------------------------------

    def _index_select(self) -> Any:
        i = ddb_index_items.c
        return select(
            i.pk, i.sk, i.item_pk, i.item_sk, ddb_items.c.item, ddb_items.c.size
        ).select_from(ddb_index_items.join(ddb_items, self._join()))

    async def query_index(
        self,
        table_id: int,
        index_id: int,
        pk: bytes,
        lower: Bound,
        upper: Bound,
        *,
        after: tuple[bytes, bytes, bytes] | None,
        forward: bool,
        limit: int,
    ) -> list[IndexRow]:
        """Up to ``limit`` entries of one index partition within the sort key bounds, in
        (index sort key, item key) order, after (forwards) or before ``after``."""
        raw = self._raw_read(
            lambda c: fast.query_index(
                c, table_id, index_id, pk, lower, upper, after, forward, limit
            )
        )
        if raw is not None:
            return [IndexRow(*row) for row in raw]
        i = ddb_index_items.c
        conditions = [i.table_id == table_id, i.index_id == index_id, i.pk == pk]
        if lower is not None:
            value, included = lower
            conditions.append(i.sk >= value if included else i.sk > value)
        if upper is not None:
            value, included = upper
            conditions.append(i.sk <= value if included else i.sk < value)
        columns = (i.sk, i.item_pk, i.item_sk)
        if after is not None:
            conditions.append(_after(columns, after) if forward else _before(columns, after))
        order = [c.asc() if forward else c.desc() for c in columns]
        query = self._index_select().where(*conditions).order_by(*order).limit(limit)
        async with self._reading() as conn:
            return [_index_row(row) for row in await conn.execute(query)]

    async def scan_index(
        self,
        table_id: int,
        index_id: int,
        after: tuple[bytes, bytes, bytes, bytes] | None,
        limit: int,
    ) -> list[IndexRow]:
        """Up to ``limit`` entries of an index after ``after``, in index key order."""
        i = ddb_index_items.c
        columns = (i.pk, i.sk, i.item_pk, i.item_sk)
        query = self._index_select().where(i.table_id == table_id, i.index_id == index_id)
        if after is not None:
            query = query.where(_after(columns, after))
        query = query.order_by(*columns).limit(limit)
        async with self._reading() as conn:
            return [_index_row(row) for row in await conn.execute(query)]

    async def build_index(
        self, table_id: int, indexer: Indexer, after: tuple[bytes, bytes] | None, limit: int
    ) -> tuple[bytes, bytes] | None:
        """Index up to ``limit`` items after ``after`` (one transaction, items locked on
        PostgreSQL so that a concurrent write sees the entries); the last key, or None when
        no item is left."""
        query = select(ddb_items.c.pk, ddb_items.c.sk, ddb_items.c.item).where(
            ddb_items.c.table_id == table_id
        )
        if after is not None:
            query = query.where(_after((ddb_items.c.pk, ddb_items.c.sk), after))
        query = query.order_by(ddb_items.c.pk, ddb_items.c.sk).limit(limit)
        if self._postgres:
            query = query.with_for_update()
        async with self._writing() as conn:
            rows = (await conn.execute(query)).all()
            entries = [
                {
                    "table_id": table_id,
                    "index_id": index_id,
                    "pk": ipk,
                    "sk": isk,
                    "item_pk": bytes(row.pk),
                    "item_sk": bytes(row.sk),
                }
                for row in rows
                for index_id, ipk, isk in indexer(json.loads(row.item))
            ]
            if entries:
                await conn.execute(self._insert(ddb_index_items).on_conflict_do_nothing(), entries)
        if len(rows) < limit:
            return None
        return bytes(rows[-1].pk), bytes(rows[-1].sk)

    async def drop_index(self, table_id: int, index_id: int) -> None:
        async with self._writing() as conn:
            await conn.execute(
                delete(ddb_index_items).where(
                    ddb_index_items.c.table_id == table_id,
                    ddb_index_items.c.index_id == index_id,
                )
            )

    async def index_keys(
        self, table_id: int, index_id: int, lower: Bound, upper: Bound, limit: int
    ) -> list[tuple[bytes, bytes]]:
        """The item keys of up to ``limit`` entries of an index's empty partition within the
        sort key bounds (the time-to-live index: items expiring in that range)."""
        i = ddb_index_items.c
        conditions = [i.table_id == table_id, i.index_id == index_id, i.pk == b""]
        if lower is not None:
            conditions.append(i.sk >= lower[0] if lower[1] else i.sk > lower[0])
        if upper is not None:
            conditions.append(i.sk <= upper[0] if upper[1] else i.sk < upper[0])
        query = select(i.item_pk, i.item_sk).where(*conditions).order_by(i.sk).limit(limit)
        async with self._reading() as conn:
            return [(bytes(r.item_pk), bytes(r.item_sk)) for r in await conn.execute(query)]

    async def purge_items(
        self,
        table_id: int,
        keys: Sequence[tuple[bytes, bytes]],
        indexer: Indexer,
        still: Callable[[dict[str, Any]], bool],
    ) -> int:
        """Delete the items of ``keys`` for which ``still`` (asked on the item as it is now,
        locked) holds, with their index entries; how many were deleted."""
        deleted = 0
        async with self._writing() as conn:
            for pk, sk in keys:
                old = await self._locked_item(conn, table_id, pk, sk)
                if old is None or not still(old):
                    continue
                await conn.execute(delete(ddb_items).where(self._key(table_id, pk, sk)))
                await self._reindex(conn, table_id, pk, sk, old, None, indexer)
                deleted += 1
        return deleted
