"""The downlink queue on SQLAlchemy Core (``DownlinkRepository``), and its SQLite fast path
(``FastDownlinkRepository``: the hand-out on the raw writer, see ``sqlite_writer``).

A downlink is handed out once: the oldest queued one moves to ``sent`` with the message it
answers (``answered_seq``, ``answered_time``), so that a retried BIDIR callback of the same
message finds the same downlink again. On PostgreSQL the oldest queued row is taken with
``FOR UPDATE SKIP LOCKED``.
"""

from __future__ import annotations

import time as _time
from typing import Any

from sqlalchemy import Row, and_, delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from lorafox.domain import Downlink, DownlinkState, Uplink
from lorafox.errors import Conflict, NotFound
from lorafox.ports.store import DownlinkAsk
from lorafox.store.sql import rollup, sqlite_writer
from lorafox.store.sql.database import Database, Repository
from lorafox.store.sql.rows import record
from lorafox.store.sql.tables import downlinks

__all__ = ["DownlinkRepository", "FastDownlinkRepository", "answer", "downlink_from_row"]


def now_ms() -> int:
    return int(_time.time() * 1000)


def downlink_from_row(row: Row[Any]) -> Downlink:
    return record(Downlink, row)


async def _answered(
    conn: AsyncConnection, device: str, seq_number: int, time: int
) -> Downlink | None:
    row = (
        await conn.execute(
            select(downlinks)
            .where(
                downlinks.c.device == device,
                downlinks.c.answered_seq == seq_number,
                downlinks.c.answered_time == time,
            )
            .order_by(downlinks.c.id)
            .limit(1)
        )
    ).first()
    return None if row is None else downlink_from_row(row)


async def _take(
    conn: AsyncConnection,
    postgres: bool,
    device: str,
    seq_number: int | None,
    time: int | None,
    now: int,
) -> Downlink | None:
    if seq_number is not None and time is not None:
        found = await _answered(conn, device, seq_number, time)
        if found is not None:
            return found
    queued = downlinks.c.state == DownlinkState.QUEUED.value
    oldest = (
        select(downlinks.c.id)
        .where(downlinks.c.device == device, queued)
        .order_by(downlinks.c.id)
        .limit(1)
    )
    if postgres:
        oldest = oldest.with_for_update(skip_locked=True)
    take = (
        update(downlinks)
        .where(downlinks.c.id == oldest.scalar_subquery(), queued)
        .values(
            state=DownlinkState.SENT.value,
            sent_at=now,
            answered_seq=seq_number,
            answered_time=time,
        )
        .returning(*downlinks.c)
    )
    row = (await conn.execute(take)).first()
    if row is None:
        return None
    await rollup.add_downlink(conn, device, now, "dl_sent")
    return downlink_from_row(row)


async def answer(
    conn: AsyncConnection, postgres: bool, uplink: Uplink, now: int, ask: DownlinkAsk
) -> Downlink | None:
    """The queued downlink (``ask`` True) or the DIRECT answer ``ask``, recorded as sent."""
    if not isinstance(ask, str):
        return await _take(conn, postgres, uplink.device, uplink.seq_number, uplink.time, now)
    found = await _answered(conn, uplink.device, uplink.seq_number, uplink.time)
    if found is not None:
        return found
    row = (
        await conn.execute(
            insert(downlinks)
            .values(
                device=uplink.device,
                data=ask,
                state=DownlinkState.SENT.value,
                source="direct",
                created_at=now,
                sent_at=now,
                answered_seq=uplink.seq_number,
                answered_time=uplink.time,
            )
            .returning(*downlinks.c)
        )
    ).one()
    await rollup.add_downlink(conn, uplink.device, now, "dl_sent")
    return downlink_from_row(row)


async def enqueue_once(db: Database, values: dict[str, Any]) -> tuple[Downlink, bool]:
    """Insert the downlink ``values``, and True; with a ``request_id``, once per (device, id):
    the downlink a request with that id queued before, and False."""
    stmt = db.insert(downlinks).values(**values)
    request_id = values.get("request_id")
    if request_id is not None:
        stmt = stmt.on_conflict_do_nothing(
            index_elements=[downlinks.c.device, downlinks.c.request_id]
        )
    earlier = select(downlinks).where(
        downlinks.c.device == values["device"], downlinks.c.request_id == request_id
    )
    async with db.writing() as conn:
        row = (await conn.execute(stmt.returning(*downlinks.c))).first()
        if row is not None:
            return downlink_from_row(row), True
        # the conflict waited for the other transaction's commit: its row is visible
        return downlink_from_row((await conn.execute(earlier)).one()), False


class DownlinkRepository(Repository):
    """Implements ``lorafox.ports.store.DownlinkStore``."""

    async def enqueue_downlink(self, device: str, data: str, *, source: str) -> Downlink:
        stmt = (
            insert(downlinks)
            .values(
                device=device,
                data=data,
                state=DownlinkState.QUEUED.value,
                source=source,
                created_at=now_ms(),
            )
            .returning(*downlinks.c)
        )
        async with self._db.writing() as conn:
            return downlink_from_row((await conn.execute(stmt)).one())

    async def enqueue_requested_downlink(
        self, device: str, data: str, *, source: str, request_id: str
    ) -> tuple[Downlink, bool]:
        values = {
            "device": device,
            "data": data,
            "state": DownlinkState.QUEUED.value,
            "source": source,
            "created_at": now_ms(),
            "request_id": request_id,
        }
        return await enqueue_once(self._db, values)

    async def list_downlinks(
        self, device: str, *, registered_at: int | None = None
    ) -> list[Downlink]:
        query = select(downlinks).where(downlinks.c.device == device).order_by(downlinks.c.id)
        if registered_at is not None:
            query = query.where(downlinks.c.created_at >= registered_at)
        async with self._db.reading() as conn:
            return [downlink_from_row(row) for row in await conn.execute(query)]

    async def delete_downlink(self, device: str, downlink_id: int) -> None:
        mine = and_(downlinks.c.id == downlink_id, downlinks.c.device == device)
        async with self._db.writing() as conn:
            result = await conn.execute(
                delete(downlinks).where(mine, downlinks.c.state == DownlinkState.QUEUED.value)
            )
            if result.rowcount:
                return
            state = await conn.scalar(select(downlinks.c.state).where(mine))
        if state is None:
            raise NotFound(f"device {device} has no downlink {downlink_id}")
        raise Conflict(f"downlink {downlink_id} was already {state}; only queued ones can go")

    async def take_downlink(
        self, device: str, seq_number: int | None, time: int | None
    ) -> Downlink | None:
        async with self._db.writing() as conn:
            return await _take(conn, self._db.postgres, device, seq_number, time, now_ms())


class FastDownlinkRepository(DownlinkRepository):
    """``DownlinkRepository`` with the hand-out on SQLite's raw writer."""

    async def take_downlink(
        self, device: str, seq_number: int | None, time: int | None
    ) -> Downlink | None:
        now = now_ms()
        return await self._db.fast_write(
            lambda cursor: sqlite_writer.take_downlink(cursor, device, seq_number, time, now)
        )
