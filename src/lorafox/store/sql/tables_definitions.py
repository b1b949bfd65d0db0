"""Table definitions in SQL: create, read (cached briefly), list, update and delete tables, and
their sizes."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

from sqlalchemy import delete, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from lorafox.ports.tables import (
    StoredTable,
    TableNameTaken,
)
from lorafox.store.sql import tables_sqlite as fast
from lorafox.store.sql.tables import ddb_index_items, ddb_items, ddb_stream_records, ddb_tables
from lorafox.store.sql.tables_base import (
    TABLE_CACHE_SECONDS,
    TableStoreBase,
    _table,
)
from lorafox.store.sql.tables_sqlite import load

__all__ = ["TableDefinitions"]


class TableDefinitions(TableStoreBase):
    """Table metadata (``ddb_tables``)."""

    # -- tables ----------------------------------------------------------------------------

    async def create_table(
        self, name: str, definition: dict[str, Any], group_path: str | None = None
    ) -> StoredTable:
        created = int(time.time() * 1000)
        try:
            async with self._db.writing() as conn:
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
        self._table_cache.clear()

    async def get_table(self, name: str) -> StoredTable | None:
        """The table, as read at most ``TABLE_CACHE_SECONDS`` ago (this process's own table
        changes are seen at once; another instance's within that time)."""
        now = time.monotonic()
        cached = self._table_cache.get(name)
        if cached is not None and now - cached[0] < TABLE_CACHE_SECONDS:
            return cached[1]
        table: StoredTable | None
        if self._db.fast_writer is not None:
            raw = self._db.fast_read(lambda c: fast.get_table(c, name))
            table = (
                None
                if raw is None
                else StoredTable(raw[0], raw[1], load(raw[2]), raw[3], raw[4], raw[5], raw[6])
            )
        else:
            async with self._db.reading() as conn:
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
        async with self._db.reading() as conn:
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
        async with self._db.reading() as conn:
            return [row.name for row in await conn.execute(query)]

    async def delete_table(self, table_id: int) -> None:
        async with self._db.writing() as conn:
            await conn.execute(
                delete(ddb_index_items).where(ddb_index_items.c.table_id == table_id)
            )
            await conn.execute(delete(ddb_items).where(ddb_items.c.table_id == table_id))
            await conn.execute(
                delete(ddb_stream_records).where(ddb_stream_records.c.table_id == table_id)
            )
            await conn.execute(delete(ddb_tables).where(ddb_tables.c.id == table_id))
        self._forget_tables()

    async def update_table(
        self,
        table_id: int,
        change: Callable[[StoredTable], tuple[dict[str, Any], str | None]],
    ) -> StoredTable:
        """Read the table (locked), let ``change`` give its new definition and TTL attribute
        (or raise), store them: one transaction, so concurrent changes are not lost."""
        async with self._db.writing() as conn:
            query = select(ddb_tables).where(ddb_tables.c.id == table_id)
            if self._db.postgres:
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
        async with self._db.reading() as conn:
            count, size = (await conn.execute(query)).one()
        return int(count), int(size)

    async def index_stats(self, table_id: int, index_id: int) -> tuple[int, int]:
        """(entries, total size of their items): counted, so O(entries); DescribeTable only."""
        query = (
            select(func.count(), func.coalesce(func.sum(ddb_items.c.size), 0))
            .select_from(ddb_index_items.join(ddb_items, self._join()))
            .where(ddb_index_items.c.table_id == table_id, ddb_index_items.c.index_id == index_id)
        )
        async with self._db.reading() as conn:
            count, size = (await conn.execute(query)).one()
        return int(count), int(size)
