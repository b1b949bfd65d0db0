"""Callbacks of device types and their outbox of deliveries (``CallbackRepository``)."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any

from sqlalchemy import Row, Select, delete, insert, select, update

from lorafox.domain import Callback, Delivery, DeliveryState
from lorafox.ports.callbacks import AttemptOutcome, DeliveryQuery
from lorafox.store.sql.database import Repository
from lorafox.store.sql.rows import columns, record
from lorafox.store.sql.tables import callback_deliveries, callbacks, cursors

__all__ = ["CallbackRepository"]

CURSOR = "callbacks"


def _callback(row: Row[Any]) -> Callback:
    return record(Callback, row, headers=dict(row._mapping["headers"] or {}))


def _delivery(row: Row[Any]) -> Delivery:
    return record(Delivery, row, headers=dict(row._mapping["headers"] or {}))


def _not_delivered(query: DeliveryQuery) -> Select[Any]:
    d = callback_deliveries.c
    stmt = select(callback_deliveries).where(
        d.state != DeliveryState.DELIVERED.value, d.attempts > 0
    )
    if query.device is not None:
        stmt = stmt.where(d.device == query.device)
    if query.device_type_ids:
        stmt = stmt.where(d.device_type_id.in_(list(query.device_type_ids)))
    if query.since is not None:
        stmt = stmt.where(d.message_time >= query.since)
    if query.before is not None:
        stmt = stmt.where(d.message_time < query.before)
    return stmt


class CallbackRepository(Repository):
    """Implements ``lorafox.ports.callbacks.CallbackStore``."""

    async def list_callbacks(self, device_type_id: str) -> list[Callback]:
        query = (
            select(callbacks)
            .where(callbacks.c.device_type_id == device_type_id)
            .order_by(callbacks.c.created_at, callbacks.c.id)
        )
        async with self._db.reading() as conn:
            return [_callback(row) for row in await conn.execute(query)]

    async def all_callbacks(self) -> list[Callback]:
        async with self._db.reading() as conn:
            return [_callback(row) for row in await conn.execute(select(callbacks))]

    async def get_callback(self, callback_id: str) -> Callback | None:
        return await self._first(select(callbacks).where(callbacks.c.id == callback_id), _callback)

    async def create_callback(self, callback: Callback) -> None:
        async with self._db.writing() as conn:
            await conn.execute(insert(callbacks).values(columns(callback, callbacks)))

    async def update_callback(self, callback: Callback) -> None:
        values = columns(callback, callbacks, skip=("id", "device_type_id", "created_at"))
        async with self._db.writing() as conn:
            if callback.downlink_hook:  # one downlink callback per device type
                await conn.execute(
                    update(callbacks)
                    .where(callbacks.c.device_type_id == callback.device_type_id)
                    .values(downlink_hook=False)
                )
            await conn.execute(
                update(callbacks).where(callbacks.c.id == callback.id).values(values)
            )

    async def delete_callback(self, callback_id: str) -> None:
        async with self._db.writing() as conn:
            await conn.execute(
                delete(callback_deliveries).where(callback_deliveries.c.callback_id == callback_id)
            )
            await conn.execute(delete(callbacks).where(callbacks.c.id == callback_id))

    async def get_cursor(self) -> int | None:
        async with self._db.reading() as conn:
            value = await conn.scalar(select(cursors.c.value).where(cursors.c.name == CURSOR))
        return None if value is None else int(value)

    async def enqueue(self, deliveries: Sequence[Delivery], cursor: int) -> None:
        rows = [columns(d, callback_deliveries, skip=("id",)) for d in deliveries]
        stmt = self._db.insert(cursors).values(name=CURSOR, value=cursor)
        stmt = stmt.on_conflict_do_update(index_elements=[cursors.c.name], set_={"value": cursor})
        async with self._db.writing() as conn:
            if rows:
                await conn.execute(insert(callback_deliveries), rows)
            await conn.execute(stmt)

    async def due(self, now: int, limit: int, skip: Collection[int] = ()) -> list[Delivery]:
        d = callback_deliveries.c
        query = (
            select(callback_deliveries)
            .where(d.state == DeliveryState.PENDING.value, d.next_attempt_at <= now)
            .order_by(d.next_attempt_at, d.id)
            .limit(limit)
        )
        if skip:
            query = query.where(d.id.not_in(list(skip)))
        async with self._db.reading() as conn:
            return [_delivery(row) for row in await conn.execute(query)]

    async def record_attempt(self, delivery_id: int, outcome: AttemptOutcome) -> None:
        values = columns(outcome, callback_deliveries)
        async with self._db.writing() as conn:
            await conn.execute(
                update(callback_deliveries)
                .where(callback_deliveries.c.id == delivery_id)
                .values(values)
            )

    async def not_delivered(self, query: DeliveryQuery) -> list[Delivery]:
        d = callback_deliveries.c
        stmt = _not_delivered(query).order_by(d.id.desc()).limit(query.limit).offset(query.offset)
        async with self._db.reading() as conn:
            return [_delivery(row) for row in await conn.execute(stmt)]

    async def retry(self, query: DeliveryQuery, now: int) -> int:
        d = callback_deliveries.c
        ids = (
            _not_delivered(query)
            .where(d.state == DeliveryState.FAILED.value)
            .with_only_columns(d.id)
        )
        async with self._db.writing() as conn:
            result = await conn.execute(
                update(callback_deliveries)
                .where(d.id.in_(ids.scalar_subquery()))
                .values(state=DeliveryState.PENDING.value, next_attempt_at=now, ended_at=None)
            )
        return int(result.rowcount or 0)

    async def set_dead(self, callback_id: str, dead: bool) -> None:
        async with self._db.writing() as conn:
            await conn.execute(
                update(callbacks).where(callbacks.c.id == callback_id).values(dead=dead)
            )
