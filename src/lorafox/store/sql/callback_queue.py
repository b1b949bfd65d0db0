"""PostgreSQL's queue of messages whose callbacks' first attempts are not yet owed as rows of
the outbox (``callback_queue``, filled by a trigger on ``messages`` while a DATA callback is
enabled), claimed by one instance at a time per message.

A claim takes the oldest rows no other transaction holds (``FOR UPDATE SKIP LOCKED``: instances
claim side by side, never the same message), reads their messages with their devices' types,
and, when the block ends, stores the deliveries it was given and deletes the rows it held in
the same transaction: a message leaves the queue exactly when its deliveries are owed. An
instance that dies rolls its claim back and the rows are claimed again by another.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from sqlalchemy import delete, select

from lorafox.ports.cluster import Owing
from lorafox.store.sql.database import Repository
from lorafox.store.sql.messages import stored_uplink
from lorafox.store.sql.rows import columns
from lorafox.store.sql.tables import callback_deliveries, callback_queue, devices, messages

__all__ = ["CallbackQueueRepository"]


class CallbackQueueRepository(Repository):
    """Implements ``lorafox.ports.cluster.CallbackQueue``."""

    @contextlib.asynccontextmanager
    async def claim(self, limit: int) -> AsyncIterator[Owing]:
        queued = callback_queue.c.message_id
        oldest = select(queued).order_by(queued).limit(limit).with_for_update(skip_locked=True)
        async with self._db.writing() as conn:
            ids = list((await conn.scalars(oldest)).all())
            found = (
                await conn.execute(
                    select(messages, devices.c.device_type_id.label("queued_type"))
                    .outerjoin(devices, devices.c.id == messages.c.device)
                    .where(messages.c.id.in_(ids))
                    .order_by(messages.c.id)
                )
                if ids
                else ()
            )
            owing = Owing([(stored_uplink(row), row.queued_type) for row in found])
            yield owing
            if owing.deliveries:
                await conn.execute(
                    self._db.insert(callback_deliveries).on_conflict_do_nothing(),
                    [columns(d, callback_deliveries, skip=("id",)) for d in owing.deliveries],
                )
            # a message deleted while queued (retention, purge) leaves the queue too
            if ids:
                await conn.execute(delete(callback_queue).where(queued.in_(ids)))
