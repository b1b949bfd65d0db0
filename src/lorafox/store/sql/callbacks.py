"""Callbacks of device types and their outbox of deliveries (``CallbackRepository``)."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import Any

from sqlalchemy import Row, Select, bindparam, delete, insert, select, update

from lorafox.domain import Callback, Delivery, DeliveryState
from lorafox.ports.callbacks import AttemptOutcome, DeliveryQuery, WithMessage
from lorafox.store.sql.database import Repository
from lorafox.store.sql.messages import stored_uplink
from lorafox.store.sql.rows import columns, record
from lorafox.store.sql.tables import callback_deliveries, callbacks, cursors, messages

__all__ = ["CallbackRepository"]

CURSOR = "callbacks"
"""The cursor of the outbox before each callback had its own (read once, to start them)."""
LANE = "callback:"
"""The prefix of a callback's cursor: the last message it owes nothing to without a row."""
_OUTCOME = ("state", "attempts", "next_attempt_at", "last_status", "last_error", "ended_at")


def _callback(row: Row[Any]) -> Callback:
    return record(Callback, row, headers=dict(row._mapping["headers"] or {}))


def _delivery(row: Row[Any]) -> Delivery:
    return record(Delivery, row)


def _not_delivered(query: DeliveryQuery) -> Select[Any]:
    d = callback_deliveries.c
    stmt = select(callback_deliveries).where(
        d.state != DeliveryState.DELIVERED.value, d.attempts > 0
    )
    if query.device is not None:
        stmt = stmt.where(d.device == query.device)
    if query.device_type_ids:
        stmt = stmt.where(d.device_type_id.in_(list(query.device_type_ids)))
    if query.delivery_ids:
        stmt = stmt.where(d.id.in_(list(query.delivery_ids)))
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
            await conn.execute(delete(cursors).where(cursors.c.name == LANE + callback_id))

    async def get_cursor(self) -> int | None:
        async with self._db.reading() as conn:
            value = await conn.scalar(select(cursors.c.value).where(cursors.c.name == CURSOR))
        return None if value is None else int(value)

    async def enqueue(self, deliveries: Sequence[Delivery], cursor: int | None) -> None:
        rows = [columns(d, callback_deliveries, skip=("id",)) for d in deliveries]
        async with self._db.writing() as conn:
            if rows:
                await conn.execute(
                    self._db.insert(callback_deliveries).on_conflict_do_nothing(), rows
                )
            if cursor is not None:
                stmt = self._db.insert(cursors).values(name=CURSOR, value=cursor)
                stmt = stmt.on_conflict_do_update(
                    index_elements=[cursors.c.name], set_={"value": cursor}
                )
                await conn.execute(stmt)

    async def _with_messages(self, found: list[Delivery]) -> list[WithMessage]:
        ids = {d.message_id for d in found if d.message_id is not None}
        if not ids:
            return [(d, None) for d in found]
        query = select(messages).where(messages.c.id.in_(ids))
        async with self._db.reading() as conn:
            by_id = {row.id: stored_uplink(row) for row in await conn.execute(query)}
        return [(d, None if d.message_id is None else by_id.get(d.message_id)) for d in found]

    async def due(self, now: int, limit: int, skip: Collection[int] = ()) -> list[WithMessage]:
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
            found = [_delivery(row) for row in await conn.execute(query)]
        return await self._with_messages(found)

    async def lane_cursors(self) -> dict[str, int]:
        query = select(cursors).where(cursors.c.name.startswith(LANE, autoescape=True))
        async with self._db.reading() as conn:
            return {row.name[len(LANE) :]: int(row.value) for row in await conn.execute(query)}

    async def owed_after(self, callback_id: str, message_id: int) -> set[int]:
        d = callback_deliveries.c
        query = select(d.message_id).where(d.callback_id == callback_id, d.message_id > message_id)
        async with self._db.reading() as conn:
            return {int(value) for value in await conn.scalars(query)}

    async def record_attempts(
        self,
        outcomes: Sequence[tuple[int, AttemptOutcome]],
        rows: Sequence[Delivery] = (),
        lanes: Mapping[str, int] | None = None,
        forget: Collection[int] = (),
    ) -> None:
        if not outcomes and not rows and not lanes and not forget:
            return
        async with self._db.writing() as conn:
            if forget:
                d = callback_deliveries.c
                await conn.execute(delete(callback_deliveries).where(d.id.in_(list(forget))))
            if outcomes:
                await conn.execute(*self._outcomes(outcomes))
            if rows:
                await conn.execute(
                    self._db.insert(callback_deliveries).on_conflict_do_nothing(),
                    [columns(r, callback_deliveries, skip=("id",)) for r in rows],
                )
            for callback_id, value in (lanes or {}).items():
                stmt = self._db.insert(cursors).values(name=LANE + callback_id, value=value)
                stmt = stmt.on_conflict_do_update(
                    index_elements=[cursors.c.name], set_={"value": value}
                )
                await conn.execute(stmt)

    @staticmethod
    def _outcomes(
        outcomes: Sequence[tuple[int, AttemptOutcome]],
    ) -> tuple[Any, list[dict[str, Any]]]:
        d = callback_deliveries.c
        stmt = (
            update(callback_deliveries)
            .where(d.id == bindparam("delivery_id"))
            .values({name: bindparam(name) for name in _OUTCOME})
        )
        rows = [
            {"delivery_id": i, **columns(outcome, callback_deliveries)} for i, outcome in outcomes
        ]
        return stmt, rows

    async def not_delivered(self, query: DeliveryQuery) -> list[WithMessage]:
        d = callback_deliveries.c
        stmt = _not_delivered(query).order_by(d.id.desc()).limit(query.limit).offset(query.offset)
        async with self._db.reading() as conn:
            found = [_delivery(row) for row in await conn.execute(stmt)]
        return await self._with_messages(found)

    async def retry(self, query: DeliveryQuery, now: int, *, pending: bool = False) -> int:
        d = callback_deliveries.c
        ids = _not_delivered(query).with_only_columns(d.id)
        if not pending:
            ids = ids.where(d.state == DeliveryState.FAILED.value)
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
