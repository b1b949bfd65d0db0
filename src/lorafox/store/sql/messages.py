"""Messages on SQLAlchemy Core (``MessageRepository``), and the SQLite fast path of ingest
(``FastMessageRepository``: the batch on the raw writer, see ``sqlite_writer``).

A batch is stored in one transaction: the new devices heard on it, the messages (a message
already stored, the same ``(device, time, seq_number)``, is skipped: a retried callback), the
hourly rollup, and the downlink each message asked for.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Row, Select, func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from lorafox.domain import Device, StoredUplink, Uplink
from lorafox.ports.store import DownlinkAsk, Ingested
from lorafox.store.sql import rollup, sqlite_writer
from lorafox.store.sql.database import Repository
from lorafox.store.sql.devices import device_row
from lorafox.store.sql.downlinks import answer, now_ms
from lorafox.store.sql.rows import columns, record
from lorafox.store.sql.tables import cursors, device_types, devices, messages

__all__ = ["FastMessageRepository", "MessageRepository", "stored_uplink"]

_KEY = (messages.c.device, messages.c.time, messages.c.seq_number)
_DAY_MS = 86_400_000
_STEPS = (31 * _DAY_MS, 186 * _DAY_MS)
"""How far back the first steps of a newest-first listing reach on PostgreSQL."""
_STEP_FUTURE_MS = _DAY_MS
"""Messages dated up to this far ahead of now are in the first step (clocks differ)."""


def _uplink_row(uplink: Uplink, received_at: int) -> dict[str, Any]:
    return columns(uplink, messages, extra=uplink.extra or None, received_at=received_at)


def stored_uplink(row: Row[Any]) -> StoredUplink:
    m = row._mapping
    return StoredUplink(
        id=m["id"],
        received_at=m["received_at"],
        uplink=record(Uplink, row, extra=m["extra"] or {}),
        advanced=m["advanced"],
        computed_location=None
        if m["computed_lat"] is None
        else (m["computed_lat"], m["computed_lng"], m["computed_radius"], m["computed_source"]),
    )


class MessageRepository(Repository):
    """Implements ``lorafox.ports.store.MessageStore``."""

    async def ingest(
        self, batch: Sequence[tuple[Uplink, DownlinkAsk]], provision: Sequence[Device] = ()
    ) -> list[Ingested]:
        if not batch:
            return []
        now = now_ms()
        stmt = (
            self._db.insert(messages)
            .on_conflict_do_nothing(index_elements=list(_KEY))
            .returning(messages.c.id, *_KEY)
        )
        async with self._db.writing() as conn:
            if provision:
                await self._provision(conn, provision)
            result = await conn.execute(stmt, [_uplink_row(u, now) for u, _ in batch])
            keys = {(r.device, r.time, r.seq_number): r.id for r in result}
            await rollup.add_messages(conn, list(keys.values()))
            ingested: list[Ingested] = []
            for uplink, wants in batch:
                new_id = keys.pop((uplink.device, uplink.time, uplink.seq_number), None)
                downlink = (
                    await answer(conn, self._db.postgres, uplink, now, wants) if wants else None
                )
                stored = None if new_id is None else StoredUplink(new_id, now, uplink)
                ingested.append(Ingested(stored, downlink))
        return ingested

    async def _provision(self, conn: AsyncConnection, new: Sequence[Device]) -> None:
        """Insert devices heard on a callback, skipping those that exist or whose device type
        was deleted meanwhile (their uplinks are stored all the same)."""
        type_ids = list({d.device_type_id for d in new})
        found = set(
            await conn.scalars(select(device_types.c.id).where(device_types.c.id.in_(type_ids)))
        )
        rows = [device_row(d) for d in new if d.device_type_id in found]
        if rows:
            await conn.execute(
                self._db.insert(devices).on_conflict_do_nothing(index_elements=[devices.c.id]),
                rows,
            )

    async def list_messages(
        self,
        device: str,
        *,
        limit: int,
        since: int | None = None,
        before: int | None = None,
        registered_at: int | None = None,
    ) -> list[StoredUplink]:
        query = select(messages).where(messages.c.device == device)
        if registered_at is not None:
            query = query.where(messages.c.received_at >= registered_at)
        return await self._newest_first(query, limit, since, before)

    async def list_type_messages(
        self,
        device_type_id: str,
        *,
        limit: int,
        since: int | None = None,
        before: int | None = None,
    ) -> list[StoredUplink]:
        members = select(devices.c.id).where(devices.c.device_type_id == device_type_id)
        query = select(messages).where(messages.c.device.in_(members))
        return await self._newest_first(query, limit, since, before)

    async def _newest_first(
        self, query: Select[Any], limit: int, since: int | None, before: int | None
    ) -> list[StoredUplink]:
        """Up to ``limit`` messages of ``query`` with ``since <= time < before``, newest first.

        On PostgreSQL, whose ``messages`` is partitioned by month, a range reaching further back
        than ``_STEPS[0]`` is read in steps: the newest month, then the five before it, then the
        rest, each step only while the page is not full. A page of a busy device then touches
        its newest partitions only, where one unbounded query would descend the index of every
        partition (measured by bench/partitions.py)."""
        if before is not None:
            query = query.where(messages.c.time < before)
        ordered = (messages.c.time.desc(), messages.c.seq_number.desc())
        found: list[StoredUplink] = []
        async with self._db.reading() as conn:
            for low, high in self._steps(since, before):
                step = query
                if low is not None:
                    step = step.where(messages.c.time >= low)
                if high is not None:
                    step = step.where(messages.c.time < high)
                rows = await conn.execute(step.order_by(*ordered).limit(limit - len(found)))
                found.extend(stored_uplink(row) for row in rows)
                if len(found) >= limit:
                    break
        return found

    def _steps(self, since: int | None, before: int | None) -> list[tuple[int | None, int | None]]:
        """The time ranges ``[low, high)`` to read in turn, newest first (``None``: open)."""
        if not self._db.postgres:
            return [(since, None)]
        anchor = before if before is not None else now_ms() + _STEP_FUTURE_MS
        steps: list[tuple[int | None, int | None]] = []
        high: int | None = None
        for span in _STEPS:
            low = anchor - span
            if since is not None and since >= low:
                break
            steps.append((low, high))
            high = low
        steps.append((since, high))
        return steps

    async def count_messages(self, device: str, since: Sequence[int]) -> list[int]:
        if not since:
            return []
        # One range scan of the unique (device, time, seq_number) index, from the oldest bound;
        # each count filters that range (COUNT(*) FILTER: SQLite 3.30+, PostgreSQL).
        counts = [func.count().filter(messages.c.time >= bound) for bound in since]
        query = select(*counts).where(messages.c.device == device, messages.c.time >= min(since))
        async with self._db.reading() as conn:
            row = (await conn.execute(query)).one()
        return [int(value or 0) for value in row]

    async def messages_after(self, message_id: int, *, limit: int) -> list[StoredUplink]:
        query = select(messages).where(messages.c.id > message_id).order_by(messages.c.id)
        async with self._db.reading() as conn:
            return [stored_uplink(row) for row in await conn.execute(query.limit(limit))]

    async def last_message_id(self) -> int:
        async with self._db.reading() as conn:
            value = await conn.scalar(select(func.max(messages.c.id)))
        return int(value or 0)

    async def get_cursor(self, name: str) -> int | None:
        async with self._db.reading() as conn:
            value = await conn.scalar(select(cursors.c.value).where(cursors.c.name == name))
        return None if value is None else int(value)

    async def set_cursor(self, name: str, value: int) -> None:
        stmt = self._db.insert(cursors).values(name=name, value=value)
        stmt = stmt.on_conflict_do_update(index_elements=[cursors.c.name], set_={"value": value})
        async with self._db.writing() as conn:
            await conn.execute(stmt)


class FastMessageRepository(MessageRepository):
    """``MessageRepository`` with ingest on SQLite's raw writer."""

    async def ingest(
        self, batch: Sequence[tuple[Uplink, DownlinkAsk]], provision: Sequence[Device] = ()
    ) -> list[Ingested]:
        if not batch:
            return []
        now = now_ms()

        def work(cursor: sqlite3.Cursor) -> list[Ingested]:
            if provision:
                sqlite_writer.insert_devices(cursor, provision)
            ids = sqlite_writer.insert_uplinks(cursor, [uplink for uplink, _ in batch], now)
            rollup.sqlite_add_messages(cursor, [i for i in ids if i is not None])
            return [
                Ingested(
                    None if new_id is None else StoredUplink(new_id, now, uplink),
                    sqlite_writer.answer(
                        cursor, uplink.device, uplink.seq_number, uplink.time, now, wants
                    )
                    if wants
                    else None,
                )
                for new_id, (uplink, wants) in zip(ids, batch, strict=True)
            ]

        return await self._db.fast_write(work)
