"""Events, STATUS reports, ACKNOWLEDGE outcomes and DATA_ADVANCED details on SQLAlchemy Core
(``EventRepository``)."""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from typing import Any

from sqlalchemy import Row, and_, delete, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from lorafox.domain import (
    Acknowledgement,
    AdvancedData,
    DeviceStatus,
    Downlink,
    DownlinkState,
    Event,
    EventType,
)
from lorafox.store.sql import rollup
from lorafox.store.sql.database import Repository
from lorafox.store.sql.downlinks import downlink_from_row
from lorafox.store.sql.rows import columns, record
from lorafox.store.sql.tables import device_alerts, device_status, devices, downlinks, events
from lorafox.store.sql.tables import messages as messages_table

__all__ = ["EventRepository"]

_ENDED = (DownlinkState.ACKED.value, DownlinkState.FAILED.value, DownlinkState.EXPIRED.value)


def _event(row: Row[Any]) -> Event:
    return record(Event, row, data=row._mapping["data"] or {})


def _event_row(event: Event, now: int) -> dict[str, Any]:
    return columns(
        event,
        events,
        skip=("id",),
        message=event.message[:500],
        data=event.data or None,
        created_at=now,
    )


class EventRepository(Repository):
    """Implements ``lorafox.ports.store.EventStore``."""

    async def _add_events(
        self, conn: AsyncConnection, found: Sequence[Event], now: int
    ) -> list[Event]:
        if not found:
            return []
        stmt = insert(events).returning(events.c.id, sort_by_parameter_order=True)
        result = await conn.execute(stmt, [_event_row(event, now) for event in found])
        ids = list(result.scalars())
        return [
            Event(
                type=e.type,
                severity=e.severity,
                time=e.time,
                message=e.message[:500],
                device=e.device,
                device_type_id=e.device_type_id,
                data=e.data,
                id=event_id,
                created_at=now,
            )
            for e, event_id in zip(found, ids, strict=True)
        ]

    async def add_events(
        self,
        found: Sequence[Event],
        *,
        now: int,
        raise_alerts: Mapping[str, int] | None = None,
        clear_alerts: Collection[str] = (),
    ) -> list[Event]:
        alerts = raise_alerts or {}
        async with self._db.writing() as conn:
            if clear_alerts:
                await conn.execute(
                    delete(device_alerts).where(device_alerts.c.device.in_(list(clear_alerts)))
                )
            if alerts:
                await conn.execute(
                    self._db.insert(device_alerts).on_conflict_do_nothing(
                        index_elements=[device_alerts.c.device]
                    ),
                    [
                        {"device": d, "silent_since": since, "reported_at": now}
                        for d, since in alerts.items()
                    ],
                )
            return await self._add_events(conn, found, now)

    async def list_events(
        self,
        *,
        device: str | None = None,
        device_type_id: str | None = None,
        limit: int,
        since: int | None = None,
        before: int | None = None,
        before_id: int | None = None,
        registered_at: int | None = None,
        types: Collection[EventType] = (),
    ) -> list[Event]:
        query = select(events)
        if types:
            query = query.where(events.c.type.in_([t.value for t in types]))
        if device is not None:
            query = query.where(events.c.device == device)
        if registered_at is not None:
            query = query.where(events.c.created_at >= registered_at)
        if device_type_id is not None:
            query = query.where(events.c.device_type_id == device_type_id)
        if since is not None:
            query = query.where(events.c.time >= since)
        if before is not None and before_id is not None:
            query = query.where(
                or_(events.c.time < before, and_(events.c.time == before, events.c.id < before_id))
            )
        elif before is not None:
            query = query.where(events.c.time < before)
        query = query.order_by(events.c.time.desc(), events.c.id.desc()).limit(limit)
        async with self._db.reading() as conn:
            return [_event(row) for row in await conn.execute(query)]

    async def alerts(self) -> dict[str, int]:
        async with self._db.reading() as conn:
            rows = await conn.execute(select(device_alerts.c.device, device_alerts.c.silent_since))
            return {row.device: row.silent_since for row in rows}

    async def device_activity(self) -> dict[str, tuple[int, int]]:
        latest = (
            select(messages_table.c.time, messages_table.c.seq_number)
            .where(messages_table.c.device == devices.c.id)
            .order_by(messages_table.c.time.desc(), messages_table.c.seq_number.desc())
            .limit(1)
        )
        query = select(
            devices.c.id,
            latest.with_only_columns(messages_table.c.time).scalar_subquery().label("time"),
            latest.with_only_columns(messages_table.c.seq_number).scalar_subquery().label("seq"),
        )
        async with self._db.reading() as conn:
            return {
                row.id: (row.time, row.seq)
                for row in await conn.execute(query)
                if row.time is not None
            }

    async def record_status(
        self,
        status: DeviceStatus,
        found: Callable[[DeviceStatus | None], Sequence[Event]],
        now: int,
    ) -> tuple[bool, list[Event]]:
        previous_query = (
            select(device_status)
            .where(device_status.c.device == status.device, device_status.c.time < status.time)
            .order_by(device_status.c.time.desc())
            .limit(1)
        )
        stmt = (
            self._db.insert(device_status)
            .values(columns(status, device_status, received_at=now))
            .on_conflict_do_nothing(index_elements=[device_status.c.device, device_status.c.time])
        )
        async with self._db.writing() as conn:
            if not (await conn.execute(stmt)).rowcount:
                return False, []
            await rollup.add_status(conn, status)
            row = (await conn.execute(previous_query)).first()
            previous = None if row is None else record(DeviceStatus, row)
            return True, await self._add_events(conn, found(previous), now)

    async def latest_status(self, device: str) -> DeviceStatus | None:
        query = (
            select(device_status)
            .where(device_status.c.device == device)
            .order_by(device_status.c.time.desc())
            .limit(1)
        )
        return await self._first(query, lambda row: record(DeviceStatus, row))

    async def latest_computed_location(
        self, device: str
    ) -> tuple[int, float, float, int | None, int | None] | None:
        m = messages_table.c
        query = (
            select(m.time, m.computed_lat, m.computed_lng, m.computed_radius, m.computed_source)
            .where(m.device == device, m.computed_lat.is_not(None))
            .order_by(m.time.desc(), m.seq_number.desc())
            .limit(1)
        )

        def located(row: Row[Any]) -> tuple[int, float, float, int | None, int | None]:
            return (
                row.time,
                row.computed_lat,
                row.computed_lng,
                row.computed_radius,
                row.computed_source,
            )

        return await self._first(query, located)

    async def acknowledge(
        self,
        ack: Acknowledgement,
        found: Callable[[Downlink | None], Sequence[Event]],
        now: int,
    ) -> tuple[Downlink | None, list[Event]]:
        mine = downlinks.c.device == ack.device
        async with self._db.writing() as conn:
            row = (
                await conn.execute(
                    select(downlinks)
                    .where(mine, downlinks.c.answered_time == ack.time)
                    .order_by(downlinks.c.id.desc())
                    .limit(1)
                )
            ).first()
            if row is None:  # one handed out to a pure downlink request (no message time)
                row = (
                    await conn.execute(
                        select(downlinks)
                        .where(
                            mine,
                            downlinks.c.state == DownlinkState.SENT.value,
                            downlinks.c.answered_time.is_(None),
                        )
                        .order_by(downlinks.c.id.desc())
                        .limit(1)
                    )
                ).first()
            if row is None:
                return None, await self._add_events(conn, found(None), now)
            if row.state in _ENDED:  # a retried callback: already recorded
                return downlink_from_row(row), []
            state = DownlinkState.ACKED if ack.acked else DownlinkState.FAILED
            updated = (
                await conn.execute(
                    update(downlinks)
                    .where(downlinks.c.id == row.id)
                    .values(
                        state=state.value,
                        info_code=ack.info_code,
                        info_message=ack.info_message,
                        ended_at=now,
                    )
                    .returning(*downlinks.c)
                )
            ).one()
            downlink = downlink_from_row(updated)
            await rollup.add_downlink(
                conn, downlink.device, now, "dl_acked" if ack.acked else "dl_failed"
            )
            return downlink, await self._add_events(conn, found(downlink), now)

    async def attach_advanced(
        self, advanced: AdvancedData, found: Sequence[Event], now: int
    ) -> list[Event] | None:
        m = messages_table.c
        quality, stations = rollup.advanced_figures(advanced.details)
        stmt = (
            update(messages_table)
            .where(
                m.device == advanced.device,
                m.time == advanced.time,
                m.seq_number == advanced.seq_number,
            )
            .values(
                columns(
                    advanced,
                    messages_table,
                    skip=("device", "time", "seq_number", "data"),
                    advanced=advanced.details,
                    link_quality=quality,
                    stations=stations,
                )
            )
        )
        async with self._db.writing() as conn:
            if not (await conn.execute(stmt.where(m.advanced.is_(None)))).rowcount:
                known = select(m.id).where(
                    m.device == advanced.device,
                    m.time == advanced.time,
                    m.seq_number == advanced.seq_number,
                )
                # a retried callback finds its details there: nothing more to record
                return [] if (await conn.execute(known)).first() else None
            await rollup.add_advanced(conn, advanced)
            return await self._add_events(conn, found, now)

    async def expire_downlinks(
        self, queued_before: int, found: Callable[[Downlink], Event], now: int
    ) -> list[Event]:
        stmt = (
            update(downlinks)
            .where(
                downlinks.c.state == DownlinkState.QUEUED.value,
                downlinks.c.created_at < queued_before,
            )
            .values(state=DownlinkState.EXPIRED.value, ended_at=now)
            .returning(*downlinks.c)
        )
        async with self._db.writing() as conn:
            expired = [downlink_from_row(row) for row in await conn.execute(stmt)]
            for downlink in expired:
                await rollup.add_downlink(conn, downlink.device, now, "dl_expired")
            return await self._add_events(conn, [found(d) for d in expired], now)
