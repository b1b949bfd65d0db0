"""Secondary indexes in SQL: entries of ``ddb_index_items`` read by range, built for existing
items, dropped; the time-to-live purge."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import delete, select

from lorafox.ports.tables import (
    Bound,
    Indexer,
    IndexRow,
)
from lorafox.store.sql import tables_sqlite as fast
from lorafox.store.sql.tables import ddb_index_items, ddb_items
from lorafox.store.sql.tables_base import (
    TableStoreBase,
    _after,
    _before,
    _index_row,
)

__all__ = ["TableIndexes"]


class TableIndexes(TableStoreBase):
    """Index entries and the purge of expired items."""

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
        raw = self._db.fast_read(
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
        async with self._db.reading() as conn:
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
        async with self._db.reading() as conn:
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
        if self._db.postgres:
            query = query.with_for_update()
        async with self._db.writing() as conn:
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
                await conn.execute(
                    self._db.insert(ddb_index_items).on_conflict_do_nothing(), entries
                )
        if len(rows) < limit:
            return None
        return bytes(rows[-1].pk), bytes(rows[-1].sk)

    async def drop_index(self, table_id: int, index_id: int) -> None:
        async with self._db.writing() as conn:
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
        async with self._db.reading() as conn:
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
        async with self._db.writing() as conn:
            for pk, sk in keys:
                old = await self._locked_item(conn, table_id, pk, sk)
                if old is None or not still(old):
                    continue
                await conn.execute(delete(ddb_items).where(self._key(table_id, pk, sk)))
                await self._reindex(conn, table_id, pk, sk, old, None, indexer)
                deleted += 1
        return deleted
