"""Deleting old messages and events, a batch of devices at a time (``RetentionRepository``).

The devices are walked in id order with a loose index scan (a recursive query that jumps from
one device to the next through the ``(device, time, …)`` index), so a batch costs the devices
it visits, however many rows the table holds; each device's old rows are then a range of that
same index. A registered device's rows follow its device type's cutoff; the rows of a device
no longer registered follow the device type each row names.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from typing import Any

from sqlalchemy import ColumnElement, Delete, Table, and_, case, delete, literal, select, text
from sqlalchemy.ext.asyncio import AsyncConnection

from lorafox.ports.retention import Cutoffs, HistoryTable
from lorafox.store.sql.database import Repository
from lorafox.store.sql.partitions import drop_months_before, ensure_months, months_around
from lorafox.store.sql.tables import devices, events, messages

__all__ = ["RetentionRepository"]

log = logging.getLogger(__name__)

_TABLES: dict[str, Table] = {"messages": messages, "events": events}

_NEXT_DEVICES = """
WITH RECURSIVE d(device) AS (
    SELECT (SELECT min(device) FROM {table} WHERE device > :after)
    UNION ALL
    SELECT (SELECT min(device) FROM {table} WHERE device > d.device) FROM d
    WHERE d.device IS NOT NULL
)
SELECT device FROM d WHERE device IS NOT NULL LIMIT :limit
"""


def _too_old(table: Table, cutoffs: Cutoffs) -> ColumnElement[bool]:
    """A row's time before the cutoff of the device type it was received under."""
    differs = {t: c for t, c in cutoffs.by_type.items() if c != cutoffs.default}
    if not differs:
        return table.c.time < cutoffs.default
    cutoff: ColumnElement[Any] = case(
        differs, value=table.c.device_type_id, else_=literal(cutoffs.default)
    )
    return and_(table.c.time < cutoffs.latest, table.c.time < cutoff)


class RetentionRepository(Repository):
    """Implements ``lorafox.ports.retention.HistoryStore``."""

    async def prepare_history(self, now: int) -> None:
        if not self._db.postgres:
            return
        async with self._db.writing() as conn:
            made = await ensure_months(conn, months_around(now))
        if made:
            log.info("messages: partitions made for %s", ", ".join(m.name for m in made))

    async def drop_history(self, before: int) -> int:
        if not self._db.postgres or before <= 0:
            return 0
        async with self._db.writing() as conn:
            dropped = await drop_months_before(conn, before)
        if dropped:
            log.info("messages: partitions dropped: %s", ", ".join(m.name for m in dropped))
        return len(dropped)

    async def purge_history(
        self, table: HistoryTable, cutoffs: Cutoffs, *, after: str | None, limit: int
    ) -> tuple[str | None, int]:
        rows = _TABLES[table]
        async with self._db.writing() as conn:
            deleted = 0
            if after is None and table == "events":  # a device type's own events
                deleted += await _delete(
                    conn, delete(rows).where(rows.c.device.is_(None), _too_old(rows, cutoffs))
                )
            query = text(_NEXT_DEVICES.format(table=rows.name))
            found = [
                r[0] for r in await conn.execute(query, {"after": after or "", "limit": limit})
            ]
            if not found:
                return None, deleted
            registered = select(devices.c.id, devices.c.device_type_id).where(
                devices.c.id.in_(found)
            )
            by_cutoff: dict[int, list[str]] = defaultdict(list)
            for device, type_id in await conn.execute(registered):
                by_cutoff[cutoffs.by_type.get(type_id, cutoffs.default)].append(device)
            for cutoff, ids in by_cutoff.items():
                if cutoff > 0:
                    deleted += await _delete(
                        conn, delete(rows).where(rows.c.device.in_(ids), rows.c.time < cutoff)
                    )
            known = {d for ids in by_cutoff.values() for d in ids}
            orphans = [d for d in found if d not in known]  # the type their rows name
            if orphans:
                deleted += await _delete(
                    conn, delete(rows).where(rows.c.device.in_(orphans), _too_old(rows, cutoffs))
                )
            return found[-1], deleted


async def _delete(conn: AsyncConnection, statement: Delete) -> int:
    return int((await conn.execute(statement)).rowcount or 0)
