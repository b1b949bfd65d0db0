"""Stream records of the DynamoDB-compatible tables (``ddb_stream_records``): appended after
the writes they describe, read in the order of their id (the sequence number), deleted after
24 hours by the maintenance task."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import delete, func, insert, select

from lorafox.store.sql.tables import ddb_stream_records
from lorafox.store.sql.tables_base import TableStoreBase, _dump

__all__ = ["TableStreams"]


class TableStreams(TableStoreBase):
    async def append_stream_records(
        self, table_id: int, label: str, records: Sequence[tuple[int, dict[str, Any]]]
    ) -> None:
        """Add ``records`` ((created at in ms, record)) to the stream ``label``, in order."""
        if not records:
            return
        rows = [
            {"table_id": table_id, "label": label, "created_at": at, "record": _dump(record)}
            for at, record in records
        ]
        async with self._db.writing() as conn:
            for row in rows:  # one statement each: the ids follow the order
                await conn.execute(insert(ddb_stream_records).values(**row))

    async def stream_records(
        self, table_id: int, label: str, after: int, limit: int
    ) -> list[tuple[int, int, dict[str, Any]]]:
        """(sequence number, created at in ms, record) of the stream after ``after``."""
        r = ddb_stream_records.c
        query = (
            select(r.id, r.created_at, r.record)
            .where(r.table_id == table_id, r.label == label, r.id > after)
            .order_by(r.id)
            .limit(limit)
        )
        async with self._db.reading() as conn:
            rows = (await conn.execute(query)).all()
        return [(int(row.id), int(row.created_at), json.loads(row.record)) for row in rows]

    async def stream_bounds(self, table_id: int, label: str) -> tuple[int, int] | None:
        """The first and last sequence numbers the stream holds, None when it holds none."""
        r = ddb_stream_records.c
        query = select(func.min(r.id), func.max(r.id)).where(
            r.table_id == table_id, r.label == label
        )
        async with self._db.reading() as conn:
            first, last = (await conn.execute(query)).one()
        return None if first is None else (int(first), int(last))

    async def last_stream_sequence(self) -> int:
        """The highest sequence number given so far (0: none)."""
        async with self._db.reading() as conn:
            last = await conn.scalar(select(func.max(ddb_stream_records.c.id)))
        return int(last or 0)

    async def trim_stream_records(self, before: int) -> int:
        """Delete the records created before ``before`` (ms); how many."""
        async with self._db.writing() as conn:
            done = await conn.execute(
                delete(ddb_stream_records).where(ddb_stream_records.c.created_at < before)
            )
        return int(done.rowcount or 0)
