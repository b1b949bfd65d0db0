"""The SQL side of the DynamoDB-compatible tables: table metadata and items.

Items are rows keyed by (table id, ``pk``, ``sk``), where ``pk``/``sk`` are
``lorafox.tables.keys.encode_key_value`` bytes: the primary key's B-tree is the sort order DynamoDB
gives, so :meth:`ItemRepository.query_items` reads one key range (``encoded_range()`` bounds)
and a Query costs the same at 10 items or 10 million. The item itself is stored as JSON in
DynamoDB wire form.

Secondary indexes (and the time-to-live attribute, index 0) are rows of ``ddb_index_items``
keyed by (table, index, index key bytes, item key bytes), written in the transaction of the item
they point at: a write computes the entries of the old and of the new item with the table's
``Indexer`` and deletes or inserts only the difference (a write that changes no index key touches
no index row). :meth:`ItemRepository.query_index` reads one range of that key and joins each
entry to its item.

Conditional writes (:meth:`ItemRepository.write_item`) read the old item and write the new one
in one transaction: on SQLite writes are serialised by the store's write lock; on PostgreSQL
the old row is read ``FOR UPDATE``, and a new one is inserted with ``ON CONFLICT DO NOTHING``:
when a concurrent write created it first, the decision is taken again on that item.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from lorafox.ports.tables import (
    KEEP,
    Bound,
    ClientToken,
    Indexer,
    ItemRow,
    WriteDecision,
)
from lorafox.store.sql import tables_sqlite as fast
from lorafox.store.sql.tables import ddb_client_tokens, ddb_items
from lorafox.store.sql.tables_base import (
    TableStoreBase,
    _after,
    _dump,
    _row,
)
from lorafox.store.sql.tables_definitions import TableDefinitions
from lorafox.store.sql.tables_indexes import TableIndexes
from lorafox.store.sql.tables_streams import TableStreams
from lorafox.tables.errors import (
    IdempotentParameterMismatchException,
    TransactionConflictException,
)

__all__ = ["ItemRepository"]


class ItemRepository(TableDefinitions, TableIndexes, TableStreams, TableStoreBase):
    """Implements ``lorafox.ports.tables.ItemStore``: the definitions of the tables
    (``tables_definitions``), their indexes (``tables_indexes``) and their items (here)."""

    # -- items -----------------------------------------------------------------------------

    async def get_item(self, table_id: int, pk: bytes, sk: bytes) -> dict[str, Any] | None:
        if self._db.fast_writer is not None:
            return self._db.fast_read(lambda c: fast.get_item(c, table_id, pk, sk))
        async with self._db.reading() as conn:
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
                    self._db.insert(ddb_items)
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
                statement = self._db.insert(ddb_items).values(
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
        if self._db.postgres:
            query = query.with_for_update()
        row = (await conn.execute(query)).first()
        if row is None or row.created_at <= token.now - token.window:
            return False
        if row.digest != token.digest:
            raise IdempotentParameterMismatchException()
        return True

    async def _save_token(self, conn: AsyncConnection, token: ClientToken) -> None:
        statement = self._db.insert(ddb_client_tokens).values(
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
                    self._db.insert(ddb_items)
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
        async with self._db.writing() as conn:
            await conn.execute(
                delete(ddb_client_tokens).where(ddb_client_tokens.c.created_at < before)
            )

    async def get_items(
        self, keys: Sequence[tuple[int, bytes, bytes]]
    ) -> list[dict[str, Any] | None]:
        """Several items read in one transaction (TransactGetItems)."""
        found: list[dict[str, Any] | None] = []
        async with self._db.reading() as conn:
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
        raw = self._db.fast_read(
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
        async with self._db.reading() as conn:
            return [_row(row) for row in await conn.execute(query)]

    async def scan_items(
        self, table_id: int, after: tuple[bytes, bytes] | None, limit: int
    ) -> list[ItemRow]:
        """Up to ``limit`` items after the key ``after``, in (pk, sk) order."""
        query = select(ddb_items).where(ddb_items.c.table_id == table_id)
        if after is not None:
            query = query.where(_after((ddb_items.c.pk, ddb_items.c.sk), after))
        query = query.order_by(ddb_items.c.pk, ddb_items.c.sk).limit(limit)
        async with self._db.reading() as conn:
            return [_row(row) for row in await conn.execute(query)]
