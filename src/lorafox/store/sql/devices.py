"""Device types and devices on SQLAlchemy Core (``DeviceRepository``).

A device's ``last_com`` and ``seq_number`` are read from its latest message through the
(device, time, seq_number) index of ``messages``: ingest never updates the device row.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Row,
    Select,
    delete,
    exists,
    false,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError

from lorafox.domain import Device, DeviceType, DownlinkState
from lorafox.errors import Conflict, NotFound
from lorafox.ports.store import DeviceQuery, DeviceTypeQuery
from lorafox.store.sql.database import Repository
from lorafox.store.sql.rows import columns, record
from lorafox.store.sql.tables import device_types, devices, downlinks, groups, messages

__all__ = ["DeviceRepository", "device_row"]

_DEVICE_SORT: dict[str, tuple[Any, ...]] = {
    "id": (func.length(devices.c.id), devices.c.id),
    "-id": (func.length(devices.c.id).desc(), devices.c.id.desc()),
    "name": (func.lower(devices.c.name), devices.c.id),
    "-name": (func.lower(devices.c.name).desc(), devices.c.id.desc()),
}


def _latest(column: Any) -> Any:
    """The ``column`` of the device's latest message (a correlated subquery on the index)."""
    return (
        select(column)
        .where(messages.c.device == devices.c.id)
        .order_by(messages.c.time.desc(), messages.c.seq_number.desc())
        .limit(1)
        .scalar_subquery()
    )


_LAST_COM = _latest(messages.c.time)

_DEVICE_SORT |= {
    # never heard: last when newest first, first when oldest first
    "lastCom": (_LAST_COM.is_(None).desc(), _LAST_COM, devices.c.id),
    "-lastCom": (_LAST_COM.is_(None), _LAST_COM.desc(), devices.c.id.desc()),
}

_DEVICE_COLUMNS = (
    *devices.c,
    device_types.c.group_id,
    _latest(messages.c.time).label("last_com"),
    _latest(messages.c.seq_number).label("seq_number"),
)


def _heard_since(since: int) -> ColumnElement[bool]:
    """The device has a message at or after ``since`` (one probe of the messages' index)."""
    return exists().where(messages.c.device == devices.c.id, messages.c.time >= since)


def _device_type(row: Row[Any]) -> DeviceType:
    return record(DeviceType, row)


def device_row(d: Device) -> dict[str, Any]:
    """The ``devices`` row of ``d`` (its group, last_com and seq_number are not stored)."""
    return columns(d, devices)


def _in_paths(paths: Sequence[str]) -> ColumnElement[bool]:
    if not paths:
        return false()
    return or_(*(groups.c.path.startswith(p, autoescape=True) for p in paths))


class DeviceRepository(Repository):
    """Implements ``lorafox.ports.store.DeviceStore``."""

    # -- device types ----------------------------------------------------------------------

    async def get_device_type(self, device_type_id: str) -> DeviceType | None:
        query = select(device_types).where(device_types.c.id == device_type_id)
        return await self._first(query, _device_type)

    async def list_device_types(self, query: DeviceTypeQuery) -> list[DeviceType]:
        stmt = (
            select(device_types)
            .join(groups, groups.c.id == device_types.c.group_id)
            .where(_in_paths(query.paths))
        )
        if query.group_ids:
            stmt = stmt.where(device_types.c.group_id.in_(query.group_ids))
        if query.name:
            stmt = stmt.where(
                func.lower(device_types.c.name).contains(query.name.lower(), autoescape=True)
            )
        if query.payload_type is not None:
            stmt = stmt.where(device_types.c.payload_type == query.payload_type)
        stmt = stmt.order_by(device_types.c.id).limit(query.limit).offset(query.offset)
        async with self._db.reading() as conn:
            return [_device_type(row) for row in await conn.execute(stmt)]

    async def all_device_types(self) -> list[DeviceType]:
        async with self._db.reading() as conn:
            return [_device_type(row) for row in await conn.execute(select(device_types))]

    async def create_device_type(self, device_type: DeviceType) -> None:
        async with self._db.writing() as conn:
            try:
                await conn.execute(
                    insert(device_types).values(**columns(device_type, device_types))
                )
            except IntegrityError as exc:
                raise Conflict(f"device type {device_type.id} already exists") from exc

    async def update_device_type(self, device_type: DeviceType) -> None:
        values = columns(device_type, device_types)
        for fixed in ("id", "group_id", "created_at", "created_by"):
            del values[fixed]
        async with self._db.writing() as conn:
            result = await conn.execute(
                update(device_types).where(device_types.c.id == device_type.id), values
            )
        if not result.rowcount:
            raise NotFound("device type not found")

    async def delete_device_type(self, device_type_id: str) -> None:
        async with self._db.writing() as conn:
            used = await conn.scalar(
                select(exists().where(devices.c.device_type_id == device_type_id))
            )
            if used:
                raise Conflict("the device type still has devices: move or delete them first")
            result = await conn.execute(
                delete(device_types).where(device_types.c.id == device_type_id)
            )
        if not result.rowcount:
            raise NotFound("device type not found")

    # -- devices ---------------------------------------------------------------------------

    def _devices(self) -> Select[Any]:
        return select(*_DEVICE_COLUMNS).join(
            device_types, device_types.c.id == devices.c.device_type_id
        )

    async def get_device(self, device_id: str) -> Device | None:
        query = self._devices().where(devices.c.id == device_id)
        return await self._first(query, lambda row: record(Device, row))

    async def list_devices(self, query: DeviceQuery) -> list[Device]:
        stmt = (
            self._devices()
            .join(groups, groups.c.id == device_types.c.group_id)
            .where(_in_paths(query.paths))
        )
        if query.group_ids:
            stmt = stmt.where(device_types.c.group_id.in_(query.group_ids))
        if query.device_type_id is not None:
            stmt = stmt.where(devices.c.device_type_id == query.device_type_id)
        if query.ids:
            stmt = stmt.where(devices.c.id.in_(query.ids))
        if query.name:
            stmt = stmt.where(
                func.lower(devices.c.name).contains(query.name.lower(), autoescape=True)
            )
        if query.activable is not None:
            stmt = stmt.where(devices.c.activable == query.activable)
        if query.seen_since is not None:
            stmt = stmt.where(_heard_since(query.seen_since))
        if query.silent_since is not None:
            stmt = stmt.where(~_heard_since(query.silent_since))
        stmt = stmt.order_by(*_DEVICE_SORT[query.sort]).limit(query.limit).offset(query.offset)
        async with self._db.reading() as conn:
            return [record(Device, row) for row in await conn.execute(stmt)]

    async def device_index(self) -> dict[str, str]:
        async with self._db.reading() as conn:
            rows = await conn.execute(select(devices.c.id, devices.c.device_type_id))
            return {row.id: row.device_type_id for row in rows}

    async def create_devices(self, new: Sequence[Device]) -> list[str | None]:
        ids = list({d.id for d in new})
        type_ids = list({d.device_type_id for d in new})
        async with self._db.writing() as conn:
            taken: set[str] = set()
            for start in range(0, len(ids), 500):
                rows = await conn.execute(
                    select(devices.c.id).where(devices.c.id.in_(ids[start : start + 500]))
                )
                taken.update(row.id for row in rows)
            known = {
                row.id
                for row in await conn.execute(
                    select(device_types.c.id).where(device_types.c.id.in_(type_ids))
                )
            }
            problems: list[str | None] = []
            good: list[dict[str, Any]] = []
            for device in new:
                if device.id in taken:
                    problems.append(f"device {device.id} already exists")
                elif device.device_type_id not in known:
                    problems.append(f"device type {device.device_type_id} not found")
                else:
                    taken.add(device.id)
                    good.append(device_row(device))
                    problems.append(None)
            if good:
                # a callback may provision one of them meanwhile: skip it rather than fail all
                stmt = (
                    self._db.insert(devices)
                    .on_conflict_do_nothing(index_elements=[devices.c.id])
                    .returning(devices.c.id)
                )
                made = {row.id for row in await conn.execute(stmt, good)}
                problems = [
                    f"device {d.id} already exists" if p is None and d.id not in made else p
                    for d, p in zip(new, problems, strict=True)
                ]
        return problems

    async def update_device(self, device: Device) -> None:
        values = device_row(device)
        for fixed in ("id", "created_at", "created_by", "provisioned"):
            del values[fixed]
        async with self._db.writing() as conn:
            result = await conn.execute(update(devices).where(devices.c.id == device.id), values)
        if not result.rowcount:
            raise NotFound("device not found")

    async def delete_device(self, device_id: str, *, purge: bool = False) -> int:
        async with self._db.writing() as conn:
            result = await conn.execute(delete(devices).where(devices.c.id == device_id))
            if not result.rowcount:
                raise NotFound("device not found")
            if not purge:  # kept as history, but never delivered to a later owner of the id
                await conn.execute(
                    update(downlinks)
                    .where(
                        downlinks.c.device == device_id,
                        downlinks.c.state == DownlinkState.QUEUED.value,
                    )
                    .values(state=DownlinkState.EXPIRED.value, ended_at=int(time.time() * 1000))
                )
                return 0
            gone = await conn.execute(delete(messages).where(messages.c.device == device_id))
            await conn.execute(delete(downlinks).where(downlinks.c.device == device_id))
            return int(gone.rowcount or 0)
