"""The SQL side of the DynamoDB-compatible tables: table metadata and items.

Items are rows keyed by (table id, ``pk``, ``sk``), where ``pk``/``sk`` are
``lorafox.tables.keys.encode_key_value`` bytes: the primary key's B-tree is the sort order DynamoDB
gives, so :meth:`TableItemQueries.query_items` reads one key range (``encoded_range()`` bounds)
and a Query costs the same at 10 items or 10 million. The item itself is stored as JSON in
DynamoDB wire form.

Conditional writes (:meth:`TableItemQueries.write_item`) read the old item and write the new one
in one transaction: on SQLite writes are serialised by the store's write lock; on PostgreSQL
the old row is read ``FOR UPDATE``, and a new one is inserted with ``ON CONFLICT DO NOTHING``:
when a concurrent write created it first, the decision is taken again on that item.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Final, Protocol

from sqlalchemy import and_, delete, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from lorafox.store.sql.tables import ddb_items, ddb_tables
from lorafox.tables.errors import TransactionConflictException

__all__ = [
    "KEEP",
    "Bound",
    "ItemRow",
    "ItemStore",
    "StoredTable",
    "TableItemQueries",
    "TableNameTaken",
    "WriteDecision",
]

Bound = tuple[bytes, bool] | None
"""An encoded sort key bound and whether it is included; ``None``: unbounded."""


KEEP: Final = "keep"
"""A transaction's decision for an item it only checks."""


class TableNameTaken(Exception):
    """CreateTable for a name that exists."""


@dataclass(frozen=True, slots=True)
class StoredTable:
    id: int
    name: str
    definition: dict[str, Any]
    ttl_attribute: str | None
    status: str
    created_at: int  # ms


@dataclass(frozen=True, slots=True)
class ItemRow:
    pk: bytes
    sk: bytes
    item: dict[str, Any]
    size: int


WriteDecision = Callable[[dict[str, Any] | None], tuple[dict[str, Any], int] | None]
"""Given the old item (or None), the new item and its size, or None to delete it; raising
aborts the write (a failed condition)."""


class ItemStore(Protocol):
    """What the table operations need from a store."""

    async def create_table(self, name: str, definition: dict[str, Any]) -> StoredTable: ...
    async def get_table(self, name: str) -> StoredTable | None: ...
    async def list_table_names(self, after: str | None, limit: int) -> list[str]: ...
    async def delete_table(self, table_id: int) -> None: ...
    async def set_table_ttl(self, table_id: int, attribute: str | None) -> None: ...
    async def table_stats(self, table_id: int) -> tuple[int, int]: ...
    async def get_item(self, table_id: int, pk: bytes, sk: bytes) -> dict[str, Any] | None: ...
    async def write_item(
        self, table_id: int, pk: bytes, sk: bytes, decide: WriteDecision
    ) -> dict[str, Any] | None: ...
    async def write_items(
        self, table_id: int, puts: Sequence[ItemRow], deletes: Sequence[tuple[bytes, bytes]]
    ) -> None: ...
    async def transact_write(
        self,
        keys: Sequence[tuple[int, bytes, bytes]],
        decide_all: Callable[[list[dict[str, Any] | None]], list[Any]],
    ) -> None: ...
    async def get_items(
        self, keys: Sequence[tuple[int, bytes, bytes]]
    ) -> list[dict[str, Any] | None]: ...
    async def query_items(
        self,
        table_id: int,
        pk: bytes,
        lower: Bound,
        upper: Bound,
        *,
        forward: bool,
        limit: int,
    ) -> list[ItemRow]: ...
    async def scan_items(
        self, table_id: int, after: tuple[bytes, bytes] | None, limit: int
    ) -> list[ItemRow]: ...


def _table(row: Any) -> StoredTable:
    return StoredTable(
        id=row.id,
        name=row.name,
        definition=json.loads(row.definition),
        ttl_attribute=row.ttl_attribute,
        status=row.status,
        created_at=row.created_at,
    )


def _row(row: Any) -> ItemRow:
    return ItemRow(bytes(row.pk), bytes(row.sk), json.loads(row.item), row.size)


def _dump(item: dict[str, Any]) -> str:
    return json.dumps(item, separators=(",", ":"), ensure_ascii=False)


class TableItemQueries:
    """Mixed into ``SqlStore``, which provides the connections (implements ``ItemStore``)."""

    _insert: Callable[..., Any]
    _postgres: bool

    def _reading(self) -> contextlib.AbstractAsyncContextManager[AsyncConnection]:
        raise NotImplementedError

    def _writing(self) -> contextlib.AbstractAsyncContextManager[AsyncConnection]:
        raise NotImplementedError

    # -- tables ----------------------------------------------------------------------------

    async def create_table(self, name: str, definition: dict[str, Any]) -> StoredTable:
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
                    )
                )
                table_id = result.inserted_primary_key[0]  # type: ignore[index]
        except IntegrityError as exc:  # pragma: no cover - a concurrent CreateTable
            raise TableNameTaken(name) from exc
        return StoredTable(table_id, name, definition, None, "ACTIVE", created)

    async def get_table(self, name: str) -> StoredTable | None:
        async with self._reading() as conn:
            row = (await conn.execute(select(ddb_tables).where(ddb_tables.c.name == name))).first()
        return None if row is None else _table(row)

    async def list_table_names(self, after: str | None, limit: int) -> list[str]:
        query = select(ddb_tables.c.name).order_by(ddb_tables.c.name).limit(limit)
        if after is not None:
            query = query.where(ddb_tables.c.name > after)
        async with self._reading() as conn:
            return [row.name for row in await conn.execute(query)]

    async def delete_table(self, table_id: int) -> None:
        async with self._writing() as conn:
            await conn.execute(delete(ddb_items).where(ddb_items.c.table_id == table_id))
            await conn.execute(delete(ddb_tables).where(ddb_tables.c.id == table_id))

    async def set_table_ttl(self, table_id: int, attribute: str | None) -> None:
        async with self._writing() as conn:
            await conn.execute(
                update(ddb_tables)
                .where(ddb_tables.c.id == table_id)
                .values(ttl_attribute=attribute)
            )

    async def table_stats(self, table_id: int) -> tuple[int, int]:
        """(item count, total size in bytes): counted, so O(items); DescribeTable only."""
        query = select(func.count(), func.coalesce(func.sum(ddb_items.c.size), 0)).where(
            ddb_items.c.table_id == table_id
        )
        async with self._reading() as conn:
            count, size = (await conn.execute(query)).one()
        return int(count), int(size)

    # -- items -----------------------------------------------------------------------------

    def _key(self, table_id: int, pk: bytes, sk: bytes) -> Any:
        return and_(ddb_items.c.table_id == table_id, ddb_items.c.pk == pk, ddb_items.c.sk == sk)

    async def get_item(self, table_id: int, pk: bytes, sk: bytes) -> dict[str, Any] | None:
        async with self._reading() as conn:
            row = (
                await conn.execute(select(ddb_items.c.item).where(self._key(table_id, pk, sk)))
            ).first()
        return None if row is None else dict(json.loads(row.item))

    async def write_item(
        self, table_id: int, pk: bytes, sk: bytes, decide: WriteDecision
    ) -> dict[str, Any] | None:
        """Read the item, let ``decide`` choose, write: atomically. Returns the old item."""
        async with self._writing() as conn:
            while True:
                query = select(ddb_items.c.item).where(self._key(table_id, pk, sk))
                if self._postgres:
                    query = query.with_for_update()
                row = (await conn.execute(query)).first()
                old = None if row is None else dict(json.loads(row.item))
                decision = decide(old)
                if decision is None:
                    if old is not None:
                        await conn.execute(delete(ddb_items).where(self._key(table_id, pk, sk)))
                    return old
                new, size = decision
                if old is not None:
                    await conn.execute(
                        update(ddb_items)
                        .where(self._key(table_id, pk, sk))
                        .values(item=_dump(new), size=size)
                    )
                    return old
                # No row to lock: insert only if nobody did meanwhile (PostgreSQL waits for a
                # concurrent inserter); if one did, decide again on its item, now locked.
                inserted = await conn.execute(
                    self._insert(ddb_items)
                    .values(table_id=table_id, pk=pk, sk=sk, item=_dump(new), size=size)
                    .on_conflict_do_nothing()
                )
                if inserted.rowcount:
                    return None

    async def write_items(
        self, table_id: int, puts: Sequence[ItemRow], deletes: Sequence[tuple[bytes, bytes]]
    ) -> None:
        """Unconditional puts and deletes in one transaction (BatchWriteItem)."""
        async with self._writing() as conn:
            for pk, sk in deletes:
                await conn.execute(delete(ddb_items).where(self._key(table_id, pk, sk)))
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

    async def transact_write(
        self,
        keys: Sequence[tuple[int, bytes, bytes]],
        decide_all: Callable[[list[dict[str, Any] | None]], list[Any]],
    ) -> None:
        """All or nothing: read (and lock) every item, decide on all of them, write them.

        ``decide_all`` gets the old items in order and returns, for each, the new item and its
        size, ``None`` (delete) or ``KEEP``; raising cancels everything. On PostgreSQL an item
        created concurrently by another writer is a ``TransactionConflict`` (retryable).
        """
        async with self._writing() as conn:
            olds: list[dict[str, Any] | None] = []
            for table_id, pk, sk in keys:
                query = select(ddb_items.c.item).where(self._key(table_id, pk, sk))
                if self._postgres:
                    query = query.with_for_update()
                row = (await conn.execute(query)).first()
                olds.append(None if row is None else dict(json.loads(row.item)))
            decisions = decide_all(olds)
            for (table_id, pk, sk), old, decision in zip(keys, olds, decisions, strict=True):
                if decision == KEEP:
                    continue
                if decision is None:
                    if old is not None:
                        await conn.execute(delete(ddb_items).where(self._key(table_id, pk, sk)))
                    continue
                new, size = decision
                if old is not None:
                    await conn.execute(
                        update(ddb_items)
                        .where(self._key(table_id, pk, sk))
                        .values(item=_dump(new), size=size)
                    )
                    continue
                inserted = await conn.execute(
                    self._insert(ddb_items)
                    .values(table_id=table_id, pk=pk, sk=sk, item=_dump(new), size=size)
                    .on_conflict_do_nothing()
                )
                if not inserted.rowcount:
                    raise TransactionConflictException("Transaction is ongoing for the item")

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
            pk, sk = after
            query = query.where(
                or_(ddb_items.c.pk > pk, and_(ddb_items.c.pk == pk, ddb_items.c.sk > sk))
            )
        query = query.order_by(ddb_items.c.pk, ddb_items.c.sk).limit(limit)
        async with self._reading() as conn:
            return [_row(row) for row in await conn.execute(query)]
